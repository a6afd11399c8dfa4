#pragma once
// Internal to the store module: one getter/setter pair per record member, generated from the
// member pointer (NaN <-> empty, bool <-> integer 0/1), so that a record's field table is the
// only place a field is named. Used by cell_fields() and serve_level_fields().

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include "joulebench/record.hpp"

namespace jb::fields {

template <class R, auto M>
FieldValue get_member(const R & r) {
    using T = std::remove_cvref_t<decltype(r.*M)>;
    if constexpr (std::is_same_v<T, double>) {
        return std::isnan(r.*M) ? FieldValue{} : FieldValue{r.*M};
    } else if constexpr (std::is_same_v<T, bool>) {
        return FieldValue{int64_t(r.*M ? 1 : 0)};
    } else {
        return FieldValue{r.*M};
    }
}

template <class R, auto M>
void set_member(R & r, const FieldValue & v) {
    using T = std::remove_cvref_t<decltype(r.*M)>;
    if constexpr (std::is_same_v<T, double>) {
        if (const double * d = std::get_if<double>(&v)) {
            r.*M = *d;
        } else if (const int64_t * i = std::get_if<int64_t>(&v)) {
            r.*M = double(*i);
        } else {
            r.*M = kUnmeasured;
        }
    } else if constexpr (std::is_same_v<T, bool>) {
        const int64_t * i = std::get_if<int64_t>(&v);
        r.*M = i && *i != 0;
    } else if constexpr (std::is_same_v<T, int64_t>) {
        const int64_t * i = std::get_if<int64_t>(&v);
        r.*M = i ? *i : 0;
    } else {
        const std::string * s = std::get_if<std::string>(&v);
        r.*M = s ? *s : std::string();
    }
}

}  // namespace jb::fields
