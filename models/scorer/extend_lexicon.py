#!/usr/bin/env python3
"""Propose metaphor-lexicon entries from the cues of the labelled TRAIN split.

    python3 models/scorer/extend_lexicon.py >> models/scorer/metaphor_lexicon.toml

For every labelled cue of the train split that the lexicon does not find yet, the
cue's content words become an entry (exact words, any order, the lexicon's window).
An entry is kept only when it is specific: two or more content words, or one long
word (>= 8 letters), and it fires on no train turn outside a labelled cue (the
labelled sets hold literal "trap" sentences for exactly this). Dev and test turns are
never read, so the evaluation split stays unseen.

The matching below mirrors src/score/lexicon.rs (tokens, window = terms + 4, any
order, distinct tokens).
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from train_heads import load_labelled  # noqa: E402

STOP = set("""
de het een en of ik je jij u uw we wij ze zij hij mij me mijn m'n jullie hun hen dat die dit
deze er is ben bent was waren zijn wordt word worden werd heb heeft hebben had al nog wel niet
geen toch maar ook zo dan als om te van in op aan met voor naar bij uit door over tot na
echt gewoon gewoonweg helemaal heel erg zelfs even weer nu meer
the a an and or i you he she we they me my your our their it its is am are was were be been
being have has had do does did not no so just really very to of in on at for with by from as
that this these those there here all up out about too even now still
""".split())

WORD = re.compile(r"[\w'’]+")


def tokens(text: str) -> list:
    return [t.lower() for t in WORD.findall(text)]


def spans(text: str) -> list:
    return [(m.start(), m.end(), m.group().lower()) for m in WORD.finditer(text)]


def matches(terms: list, toks: list):
    """(first, last) token index of a match, or None (lexicon.rs semantics, exact words)."""
    window = len(terms) + 4
    for anchor in range(len(toks)):
        end = min(anchor + window, len(toks))
        used = []
        for term in terms:
            alts = term.split("|")
            hit = next((p for p in range(anchor, end) if p not in used and any(
                toks[p].startswith(a[:-1]) if a.endswith("*") else toks[p] == a for a in alts)), None)
            if hit is None:
                break
            used.append(hit)
        if len(used) == len(terms) and anchor in used:
            return min(used), max(used)
    return None


def main() -> int:
    lexicon = tomllib.loads((HERE / "metaphor_lexicon.toml").read_text(encoding="utf-8"))["cue"]
    known = {(c["lang"], tuple(c["terms"])) for c in lexicon}
    train = [r for r in load_labelled(HERE / "labelled") if r["split"] == "train"]

    def found_by_lexicon(r, cue_start, cue_end):
        toks = spans(r["text"])
        words = [t for _, _, t in toks]
        for c in lexicon:
            hit = matches(c["terms"], words)
            if hit and toks[hit[0]][0] < cue_end and cue_start < toks[hit[1]][1]:
                return True
        return False

    candidates = {}
    for r in train:
        for m in r["metaphors"]:
            start = r["text"].find(m["cue"])
            if start < 0 or found_by_lexicon(r, start, start + len(m["cue"])):
                continue
            content = [t for t in tokens(m["cue"]) if t not in STOP and len(t) > 1]
            if not content or (len(content) == 1 and len(content[0]) < 8) or len(content) > 4:
                continue
            key = (r["lang"], tuple(content))
            if key not in known:
                candidates.setdefault(key, (m["class"], m["cue"]))

    # Drop any candidate that fires on a train turn outside that turn's labelled cues.
    kept = []
    for (lang, terms), (cls, example) in sorted(candidates.items()):
        clean = True
        for r in train:
            toks = spans(r["text"])
            hit = matches(list(terms), [t for _, _, t in toks])
            if not hit:
                continue
            s, e = toks[hit[0]][0], toks[hit[1]][1]
            cues = [(r["text"].find(m["cue"]), r["text"].find(m["cue"]) + len(m["cue"])) for m in r["metaphors"]]
            if not any(cs < e and s < ce for cs, ce in cues if cs >= 0):
                clean = False
                break
        if clean:
            kept.append((lang, cls, example, terms))

    print("\n# ---- Derived from the labelled train split by models/scorer/extend_lexicon.py ----")
    for lang, cls, example, terms in kept:
        quoted = ", ".join('"' + t.replace('"', '\\"') + '"' for t in terms)
        print(f'\n[[cue]]\nlang = "{lang}"\nclass = "{cls}"\nexample = "{example}"\nterms = [{quoted}]')
    print(f"extend_lexicon: {len(kept)} entries from {len(candidates)} candidates", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
