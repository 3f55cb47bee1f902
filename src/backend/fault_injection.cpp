#include "backend/fault_injection.h"

#include <charconv>

namespace rf {

namespace {

std::string_view kind_name(FaultKind kind) {
    switch (kind) {
        case FaultKind::Op: return "op";
        case FaultKind::Copy: return "copy";
        case FaultKind::Alloc: return "alloc";
    }
    return "?";
}

}  // namespace

Result<FaultInjector> FaultInjector::parse(std::string_view plan) {
    FaultInjector f;
    bool more = !plan.empty();
    while (more) {
        const size_t comma = plan.find(',');
        std::string_view spec = plan.substr(0, comma);
        more = comma != std::string_view::npos;  // a comma promises another spec
        plan = more ? plan.substr(comma + 1) : std::string_view();
        const auto bad = [&] {
            return make_error("fault plan '{}': expected KIND:N or KIND:N:sticky with KIND op, copy or alloc and N >= 1",
                              spec);
        };
        const size_t colon = spec.find(':');
        if (colon == std::string_view::npos) return bad();
        const std::string_view kind = spec.substr(0, colon);
        std::string_view rest = spec.substr(colon + 1);
        Spec s{};
        if (kind == "op") s.kind = FaultKind::Op;
        else if (kind == "copy") s.kind = FaultKind::Copy;
        else if (kind == "alloc") s.kind = FaultKind::Alloc;
        else return bad();
        const size_t second = rest.find(':');
        const std::string_view number = rest.substr(0, second);
        if (second != std::string_view::npos) {
            if (rest.substr(second + 1) != "sticky") return bad();
            s.sticky = true;
        }
        const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), s.nth);
        if (ec != std::errc() || end != number.data() + number.size() || s.nth == 0) return bad();
        f.specs_.push_back(s);
    }
    return f;
}

FaultInjector::FaultInjector(const FaultInjector& other) : specs_(other.specs_) {}

FaultInjector& FaultInjector::operator=(const FaultInjector& other) {
    specs_ = other.specs_;
    for (auto& c : calls_) c.store(0);
    injected_.store(0);
    return *this;
}

Status FaultInjector::check(FaultKind kind) {
    if (specs_.empty()) return ok_status();
    const uint64_t call = calls_[static_cast<size_t>(kind)].fetch_add(1, std::memory_order_relaxed) + 1;
    for (const Spec& s : specs_) {
        if (s.kind != kind || call < s.nth || (!s.sticky && call != s.nth)) continue;
        injected_.fetch_add(1, std::memory_order_relaxed);
        Error e = make_error("injected fault: {} call {} failed ({})", kind_name(kind), call,
                             s.sticky ? "sticky: every later call fails too" : "transient");
        e.transient = !s.sticky;
        e.device_lost = s.sticky;  // as a lost device: nothing on it works again
        return e;
    }
    return ok_status();
}

}  // namespace rf
