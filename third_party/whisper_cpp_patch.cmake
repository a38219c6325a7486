# Included by CMake after every project() of the whisper.cpp build (whisper-rs-sys
# passes CMAKE_* variables from the environment to CMake; `.cargo/config.toml` sets
# CMAKE_PROJECT_INCLUDE to this file). It edits whisper-rs-sys's private copy of the
# sources in its build directory, never the crate registry.
#
# The change: whisper.cpp 1.8.3's beam search does not take each beam's k likeliest
# next tokens, as OpenAI's and CTranslate2's do; it draws k tokens at random from the
# softmax (std::discrete_distribution, with replacement, also at temperature 0). A
# confident step then yields the same token k times, the beam collapses, and which
# hypotheses survive depends on a random generator. The patch takes the k best tokens,
# which `whisper_sample_token_topk` already sorts and then ignores.
if(NOT PROJECT_NAME STREQUAL "whisper.cpp")
    return()
endif()
set(_source "${PROJECT_SOURCE_DIR}/src/whisper.cpp")
file(READ "${_source}" _text)
set(_marker "subtext: the k likeliest tokens")
string(FIND "${_text}" "${_marker}" _done)
if(_done GREATER -1)
    return()
endif()
set(_old [=[    std::discrete_distribution<> dist(probs.begin(), probs.end());

    for (int i = 0; i < k; ++i) {
        const auto id = dist(decoder.rng);]=])
set(_new [=[    // subtext: the k likeliest tokens (sorted above), not k random draws; a token
    // of probability zero (suppressed) is never a candidate.
    for (int i = 0; i < k && logits_id[i].first > -INFINITY; ++i) {
        const auto id = logits_id[i].second;]=])
string(FIND "${_text}" "${_old}" _at)
if(_at EQUAL -1)
    message(FATAL_ERROR "subtext: whisper.cpp's beam sampling is not the code this patch "
        "was written for (whisper-rs-sys 0.15.0, whisper.cpp 1.8.3): ${_source}")
endif()
string(REPLACE "${_old}" "${_new}" _text "${_text}")
# A symbol the subtext crate calls (src/asr/whisper.rs): a whisper.cpp built without
# this patch (say, a stale build directory) then fails to link instead of quietly
# decoding with random beams.
string(APPEND _text [=[

// subtext: see third_party/whisper_cpp_patch.cmake in the subtext repository.
extern "C" int subtext_whisper_beam_top_k(void) { return 1; }
]=])
file(WRITE "${_source}" "${_text}")
message(STATUS "subtext: patched whisper.cpp beam search to take the top k tokens")
