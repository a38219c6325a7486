#!/usr/bin/env bash
# Build the synthetic two-channel test calls in samples/ from samples/scripts/*.txt.
#
#   samples/make_samples.sh            # (re)build all calls listed in CALLS below
#
# Each script line "agent: ..." / "customer: ..." is rendered with espeak-ng (one
# voice per speaker), trimmed of leading/trailing silence, resampled with sox and
# placed on its speaker's channel (channel 0 = agent, channel 1 = customer; the
# other channel is silent meanwhile). Turns are separated by fixed gaps of 0.4-1.0 s.
# Directives in the scripts (comment lines):
#   # @hold SECONDS      silence of SECONDS before the next turn ("on hold")
#   # @overlap SECONDS   the next turn starts SECONDS before the previous turn ends
#
# Output per call: samples/<name>.wav (16-bit PCM stereo, 8 or 16 kHz) and
# samples/<name>.ref.json (speaker, channel, text and exact start/end of every turn,
# in samples and seconds, computed from the rendered durations).
#
# Deterministic: no dither (-D), repeatable mode (-R), fixed gaps; running it twice
# gives byte-identical files (espeak-ng 1.51 + sox 14.4.2, Debian 12). A different
# espeak-ng version may render slightly different audio (and timings).
set -euo pipefail
export LC_ALL=C.UTF-8

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPTS="$HERE/scripts"
OUTDIR="$HERE"

missing=()
for tool in espeak-ng sox soxi awk sed; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "make_samples.sh: missing tool(s): ${missing[*]}" >&2
    echo "  on Debian/Ubuntu install them with: sudo apt-get install -y espeak-ng sox" >&2
    exit 1
fi

# name       rate  language agent voice/pitch/speed   customer voice/pitch/speed
CALLS=(
    "call-en-1 8000  en  en-us 40 150  en+f3 65 158"
    "call-en-2 16000 en  en-us 40 152  en+f3 65 160"
    "call-nl-1 8000  nl  nl    40 150  nl+f2 65 155"
    "call-nl-2 16000 nl  nl    40 152  nl+f2 65 158"
)
# Gaps between consecutive turns, in ms, used in this order (cycled).
GAPS_MS=(600 450 800 500 950 700 400 850 550 1000 650 750)
LEAD_MS=500   # silence before the first turn
TAIL_MS=500   # silence after the last turn

TMP="$(mktemp -d "${TMPDIR:-/tmp}/make_samples.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# seconds (decimal string) -> milliseconds (integer)
to_ms() { awk -v s="$1" 'BEGIN { printf "%d", s * 1000 + 0.5 }'; }
# samples -> seconds with 6 decimals
to_s() { awk -v n="$1" -v r="$2" 'BEGIN { printf "%.6f", n / r }'; }
json_str() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"; }
trim() { local s="$1"; s="${s#"${s%%[![:space:]]*}"}"; s="${s%"${s##*[![:space:]]}"}"; printf '%s' "$s"; }

build_call() {
    local name="$1" rate="$2" lang="$3" av="$4" ap="$5" as="$6" cv="$7" cp="$8" cs="$9"
    local script="$SCRIPTS/$name.txt" work="$TMP/$name"
    [[ -f "$script" ]] || { echo "missing script $script" >&2; exit 1; }
    mkdir -p "$work"

    local -a spk=() txt=() start=() end=() chan=()
    local -a events=()
    local cursor=$((LEAD_MS * rate / 1000))  # where the next turn starts by default
    local last_end=0 pending_hold="" pending_overlap="" gap_i=0 i=0
    local -a ch_cursor=(0 0)
    local -a ch_files0=() ch_files1=()

    while IFS= read -r raw || [[ -n "$raw" ]]; do
        local line; line="$(trim "$raw")"
        [[ -z "$line" ]] && continue
        if [[ "$line" == \#* ]]; then
            if [[ "$line" =~ ^#[[:space:]]*@hold[[:space:]]+([0-9.]+) ]]; then
                pending_hold="${BASH_REMATCH[1]}"
            elif [[ "$line" =~ ^#[[:space:]]*@overlap[[:space:]]+([0-9.]+) ]]; then
                pending_overlap="${BASH_REMATCH[1]}"
            fi
            continue
        fi
        local who="${line%%:*}" text; text="$(trim "${line#*:}")"
        local ch voice pitch speed
        case "$who" in
            agent) ch=0; voice="$av"; pitch="$ap"; speed="$as" ;;
            customer) ch=1; voice="$cv"; pitch="$cp"; speed="$cs" ;;
            *) echo "$script: bad speaker '$who' in: $line" >&2; exit 1 ;;
        esac

        # Render: espeak-ng (22.05 kHz mono) -> trim silence -> normalise -> resample.
        printf '%s\n' "$text" > "$work/$i.txt"
        espeak-ng -v "$voice" -p "$pitch" -s "$speed" -w "$work/$i.raw.wav" -f "$work/$i.txt"
        sox -R -D -V1 "$work/$i.raw.wav" -b 16 -e signed-integer -c 1 "$work/$i.wav" \
            silence 1 0.01 0.1% reverse silence 1 0.01 0.1% reverse \
            gain -n -3 rate -v "$rate"
        local n; n="$(soxi -s "$work/$i.wav")"

        # Place it on the timeline.
        local s
        if [[ -n "$pending_overlap" ]]; then
            ((i > 0)) || { echo "$script: @overlap before the first turn" >&2; exit 1; }
            s=$((end[i - 1] - $(to_ms "$pending_overlap") * rate / 1000))
            local os=$s oe=$((end[i - 1] < s + n ? end[i - 1] : s + n))
            events+=("{\"type\": \"overlap\", \"turns\": [$((i - 1)), $i], \"start_sample\": $os, \"end_sample\": $oe, \"start\": $(to_s $os "$rate"), \"end\": $(to_s $oe "$rate")}")
        elif [[ -n "$pending_hold" ]]; then
            s=$((last_end + $(to_ms "$pending_hold") * rate / 1000))
            events+=("{\"type\": \"hold\", \"start_sample\": $last_end, \"end_sample\": $s, \"start\": $(to_s $last_end "$rate"), \"end\": $(to_s $s "$rate")}")
        elif ((i == 0)); then
            s=$cursor
        else
            s=$((last_end + GAPS_MS[gap_i % ${#GAPS_MS[@]}] * rate / 1000))
            gap_i=$((gap_i + 1))
        fi
        pending_hold=""; pending_overlap=""
        if ((s < ch_cursor[ch])); then
            echo "$script: turn $i overlaps the same speaker's previous turn" >&2; exit 1
        fi
        # Pad the segment with the silence since this channel's last turn.
        sox -R -D -V1 "$work/$i.wav" "$work/$i.ch.wav" pad "$((s - ch_cursor[ch]))s"
        if ((ch == 0)); then ch_files0+=("$work/$i.ch.wav"); else ch_files1+=("$work/$i.ch.wav"); fi
        ch_cursor[ch]=$((s + n))

        spk+=("$who"); txt+=("$text"); chan+=("$ch"); start+=("$s"); end+=("$((s + n))")
        ((s + n > last_end)) && last_end=$((s + n))
        i=$((i + 1))
    done < "$script"
    ((i > 0)) || { echo "$script: no turns" >&2; exit 1; }

    local total=$((last_end + TAIL_MS * rate / 1000))
    local c
    for c in 0 1; do
        local -a files=()
        if ((c == 0)); then files=("${ch_files0[@]}"); else files=("${ch_files1[@]}"); fi
        local out="$work/chan$c.wav"
        if ((${#files[@]} == 0)); then
            sox -R -D -V1 -n -r "$rate" -b 16 -e signed-integer -c 1 "$out" trim 0 "${total}s"
        else
            local cat="$work/chan$c.cat.wav"
            sox -R -D -V1 "${files[@]}" "$cat"
            sox -R -D -V1 "$cat" "$out" pad 0 "$((total - ch_cursor[c]))s"
        fi
    done
    sox -R -D -V1 -M "$work/chan0.wav" "$work/chan1.wav" -b 16 -e signed-integer "$work/out.wav"
    local got; got="$(soxi -s "$work/out.wav")"
    ((got == total)) || { echo "$name: length $got != expected $total" >&2; exit 1; }

    # Reference JSON.
    local json="$work/out.json" k
    {
        printf '{\n'
        printf '  "file": "%s.wav",\n' "$name"
        printf '  "script": "scripts/%s.txt",\n' "$name"
        printf '  "language": "%s",\n' "$lang"
        printf '  "sample_rate": %d,\n' "$rate"
        printf '  "channels": {"0": "agent", "1": "customer"},\n'
        printf '  "voices": {"agent": "espeak-ng -v %s -p %s -s %s", "customer": "espeak-ng -v %s -p %s -s %s"},\n' \
            "$av" "$ap" "$as" "$cv" "$cp" "$cs"
        printf '  "duration_samples": %d,\n' "$total"
        printf '  "duration": %s,\n' "$(to_s "$total" "$rate")"
        printf '  "turns": [\n'
        for ((k = 0; k < i; k++)); do
            printf '    {"index": %d, "speaker": "%s", "channel": %d, "start_sample": %d, "end_sample": %d, "start": %s, "end": %s, "text": %s}' \
                "$k" "${spk[k]}" "${chan[k]}" "${start[k]}" "${end[k]}" \
                "$(to_s "${start[k]}" "$rate")" "$(to_s "${end[k]}" "$rate")" "$(json_str "${txt[k]}")"
            ((k < i - 1)) && printf ',\n' || printf '\n'
        done
        printf '  ],\n'
        printf '  "events": ['
        for ((k = 0; k < ${#events[@]}; k++)); do
            printf '\n    %s' "${events[k]}"
            ((k < ${#events[@]} - 1)) && printf ','
        done
        ((${#events[@]})) && printf '\n  '
        printf ']\n}\n'
    } > "$json"

    mv -f "$work/out.wav" "$OUTDIR/$name.wav"
    mv -f "$json" "$OUTDIR/$name.ref.json"
    printf '%-10s %5d Hz  %6.2f s  %2d turns  %8d bytes\n' "$name" "$rate" \
        "$(to_s "$total" "$rate")" "$i" "$(wc -c < "$OUTDIR/$name.wav")"
}

for spec in "${CALLS[@]}"; do
    # shellcheck disable=SC2086
    build_call $spec
done
