// Finds stop strings in streamed text, across token boundaries: text that could still turn out
// to be the start of a stop string is held back until the next piece decides it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rf::engine {

class StopMatcher {
public:
    explicit StopMatcher(std::vector<std::string> stops);

    struct Output {
        std::string text;      // safe to show: not part of any stop string
        bool stopped = false;  // a stop string was found (it and what follows are dropped)
    };
    Output push(std::string_view piece);
    // The text held back at the end of generation.
    std::string flush();

private:
    std::vector<std::string> stops_;
    std::string pending_;
};

}  // namespace rf::engine
