// Python string semantics over UTF-8: lengths and indices count code points, and strip()/split()
// treat Unicode whitespace as Python does, so templates see the same strings the reference saw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rf::tmpl::text {

// The string cut into code points (invalid bytes become single-byte pieces).
std::vector<std::string> code_points(const std::string& s);
size_t length(const std::string& s);

enum class Side { Both, Left, Right };
// str.strip([chars]); without chars, strips Unicode whitespace.
std::string strip(const std::string& s, const std::optional<std::string>& chars, Side side);

// str.split()/str.rsplit(): on whitespace runs when sep is empty; max_split < 0 means no limit.
std::vector<std::string> split(const std::string& s, const std::string& sep, int64_t max_split);
std::vector<std::string> rsplit(const std::string& s, const std::string& sep, int64_t max_split);
std::vector<std::string> splitlines(const std::string& s);

// str.replace(old, new[, count]); count < 0 replaces all.
std::string replace(const std::string& s, const std::string& from, const std::string& to, int64_t count);
size_t count(const std::string& s, const std::string& needle);

std::string upper(const std::string& s);
std::string lower(const std::string& s);
std::string capitalize(const std::string& s);  // first character upper, the rest lower
std::string title(const std::string& s);       // each word capitalized

bool starts_with(const std::string& s, const std::string& prefix);
bool ends_with(const std::string& s, const std::string& suffix);

}  // namespace rf::tmpl::text
