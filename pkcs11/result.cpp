#include "pkcs11/result.h"

#include "pkcs11/names.h"

namespace attache {

Error Error::pkcs11(CK_RV rv, std::string_view call, std::string_view object) {
    std::string m(call);
    if (!object.empty()) {
        m += "(";
        m += object;
        m += ")";
    }
    m += ": ";
    m += p11::rv_name(rv);
    return Error(std::move(m), rv);
}

Error Error::context(std::string_view what) const& {
    Error e = *this;
    return std::move(e).context(what);
}

Error Error::context(std::string_view what) && {
    message_ = std::string(what) + ": " + message_;
    return std::move(*this);
}

}  // namespace attache
