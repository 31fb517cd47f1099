#include "agent/core/token_list.h"

#include <algorithm>

namespace attache::agent {

std::vector<std::shared_ptr<Token>> TokenList::all() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<Token>> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_)
        out.push_back(e.token);
    return out;
}

std::shared_ptr<Token> TokenList::present(size_t source, CK_SLOT_ID slot) const {
    std::lock_guard lock(mutex_);
    for (const auto& e : entries_) {
        if (e.source == source && e.token->slot() == slot && e.token->present())
            return e.token;
    }
    return nullptr;
}

std::vector<std::shared_ptr<Token>> TokenList::present_of(size_t source) const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<Token>> out;
    for (const auto& e : entries_) {
        if (e.source == source && e.token->present())
            out.push_back(e.token);
    }
    return out;
}

std::string TokenList::add(size_t source, std::shared_ptr<Token> token) {
    std::lock_guard lock(mutex_);
    std::string reason;
    std::erase_if(entries_, [&](const Entry& e) {
        if (e.source != source || e.token->present() || e.token->serial() != token->serial())
            return false;
        reason = e.token->status().lock_reason;
        return true;
    });
    entries_.push_back({source, std::move(token)});
    return reason;
}

}  // namespace attache::agent
