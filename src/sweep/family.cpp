// Model families as a sweep takes them: --family specs, and which models they add to the grid.

#include "sweep/family.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <set>

#include "joulebench/error.hpp"

namespace jb {

namespace {

bool same_file(const std::string& a, const std::string& b) {
    if (a == b) return true;
    std::error_code ec1, ec2;
    const bool eq = std::filesystem::equivalent(a, b, ec1);
    if (!ec1) return eq;
    return std::filesystem::weakly_canonical(a, ec1) == std::filesystem::weakly_canonical(b, ec2) && !ec1 && !ec2;
}

}  // namespace

FamilySpec parse_family(const std::string& spec) {
    FamilySpec f;
    std::string rest = spec;
    const size_t colon = spec.find(':');
    const size_t eq = spec.find('=');
    if (colon != std::string::npos && (eq == std::string::npos || colon < eq)) {
        f.name = spec.substr(0, colon);
        rest = spec.substr(colon + 1);
        if (f.name.empty()) throw UsageError(fmt::format("--family '{}': empty family name before ':'", spec));
    } else {
        f.name = FamilySpec{}.name;
    }
    size_t start = 0;
    while (start <= rest.size()) {
        const size_t comma = rest.find(',', start);
        const std::string item = rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        const size_t e = item.find('=');
        if (e == std::string::npos) {
            throw UsageError(fmt::format(
                "--family '{}': '{}' is not ROLE=FILE (expected [NAME:]base=teacher.gguf,distilled=student.gguf)", spec,
                item));
        }
        const std::string role = item.substr(0, e), path = item.substr(e + 1);
        if (path.empty()) throw UsageError(fmt::format("--family '{}': {} has no file", spec, role));
        std::string* slot = role == "base" ? &f.base : role == "distilled" ? &f.distilled : nullptr;
        if (!slot) {
            throw UsageError(fmt::format("--family '{}': unknown role '{}' (expected base and distilled)", spec, role));
        }
        if (!slot->empty()) throw UsageError(fmt::format("--family '{}': {} given twice", spec, role));
        *slot = path;
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (f.base.empty() || f.distilled.empty()) {
        throw UsageError(fmt::format("--family '{}': needs both base=FILE and distilled=FILE", spec));
    }
    if (same_file(f.base, f.distilled)) {
        throw UsageError(fmt::format("--family '{}': base and distilled are the same file", spec));
    }
    return f;
}

std::vector<FamilySpec> parse_families(const std::vector<std::string>& specs) {
    std::vector<FamilySpec> out;
    std::set<std::string> names;
    for (const auto& s : specs) {
        FamilySpec f = parse_family(s);
        if (!names.insert(f.name).second) {
            throw UsageError(fmt::format(
                "--family: family '{}' given twice (name each family: NAME:base=...,distilled=...)", f.name));
        }
        out.push_back(std::move(f));
    }
    return out;
}

std::vector<std::string> family_models_missing(const std::vector<FamilySpec>& families,
                                               const std::vector<std::string>& models) {
    std::vector<std::string> out;
    auto listed = [&](const std::string& path) {
        for (const auto& m : models) {
            if (same_file(m, path)) return true;
        }
        for (const auto& m : out) {
            if (same_file(m, path)) return true;
        }
        return false;
    };
    for (const auto& f : families) {
        for (const auto* path : {&f.base, &f.distilled}) {
            if (!listed(*path)) out.push_back(*path);
        }
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> family_roles_of(const std::vector<FamilySpec>& families,
                                                                 const std::string& model_path) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& f : families) {
        if (same_file(f.base, model_path)) out.emplace_back(f.name, "base");
        if (same_file(f.distilled, model_path)) out.emplace_back(f.name, "distilled");
    }
    return out;
}

}  // namespace jb
