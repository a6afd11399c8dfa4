#include "cli/suggest.hpp"

#include "util/strings.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace jb::cli {

namespace {

std::vector<std::string> option_names(const CLI::App & cmd) {
    std::vector<std::string> out;
    for (const CLI::Option * opt : cmd.get_options()) {
        for (const auto & l : opt->get_lnames()) out.push_back("--" + l);
        for (const auto & s : opt->get_snames()) out.push_back("-" + s);
    }
    return out;
}

}  // namespace

std::string unknown_word_hint(const CLI::App & app, int argc, const char * const * argv) {
    if (argc < 2) return "";
    const std::string first = argv[1];
    if (first.empty() || first[0] == '-') return "";
    const CLI::App * cmd = nullptr;
    std::vector<std::string> commands;
    for (const CLI::App * sub : app.get_subcommands([](const CLI::App *) { return true; })) {
        commands.push_back(sub->get_name());
        if (sub->get_name() == first) cmd = sub;
    }
    if (!cmd) {
        const std::string near = closest_name(first, commands);
        return near.empty() ? fmt::format("unknown command '{}' (joulebench --help lists them)", first)
                            : fmt::format("unknown command '{}'; did you mean '{}'?", first, near);
    }
    // Subcommands of the command (hardware list): their options count too.
    std::vector<const CLI::App *> scopes = {cmd};
    for (int i = 2; i < argc; ++i) {
        const std::string w = argv[i];
        if (w == "--") break;
        for (const CLI::App * sub : cmd->get_subcommands([](const CLI::App *) { return true; })) {
            if (sub->get_name() == w) scopes.push_back(sub);
        }
        if (w.size() < 2 || w[0] != '-' || (w.size() > 1 && std::isdigit(static_cast<unsigned char>(w[1])))) continue;
        const std::string name = w.substr(0, w.find('='));
        bool known = false;
        std::vector<std::string> names;
        for (const CLI::App * s : scopes) {
            const auto n = option_names(*s);
            names.insert(names.end(), n.begin(), n.end());
            known = known || std::find(n.begin(), n.end(), name) != n.end();
        }
        if (known || name == "-h" || name == "--help") continue;
        const std::string near = closest_name(name, names);
        return near.empty() ? fmt::format("{}: unknown option {} (joulebench {} --help lists them)", first, name, first)
                            : fmt::format("{}: unknown option {}; did you mean {}?", first, name, near);
    }
    return "";
}

}  // namespace jb::cli
