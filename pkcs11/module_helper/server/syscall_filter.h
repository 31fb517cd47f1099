#pragma once

// The helper's seccomp filter, installed once the module is initialised (its constructor and
// C_Initialize have run) and before the first call from the agent. A module keeps every system
// call a PKCS#11 module needs (files, sockets to pcscd, threads, memory, time); it loses the
// calls that reach other processes or change the system, each failing with EPERM:
//   - execve, execveat: no program started from the helper;
//   - ptrace, process_vm_readv/writev, kcmp, pidfd_getfd: no other process read or written;
//   - mount, umount2, pivot_root, chroot, unshare, setns, open_by_handle_at: no new view of the
//     file system;
//   - bpf, perf_event_open, userfaultfd, init/finit/delete_module, kexec_load/kexec_file_load,
//     reboot, swapon/swapoff, keyctl/add_key/request_key, personality, quotactl, acct.
// A system call of another ABI (x32, i386 on x86-64) kills the helper. Landlock is not used:
// which files a vendor module reads and writes (its configuration, its token store, pcscd's
// socket) is the module's own business and not known to the agent.

namespace attache::p11::module_helper {

// Sets no_new_privs and installs the filter. False (errno set) if the kernel refused it.
bool install_syscall_filter();

}  // namespace attache::p11::module_helper
