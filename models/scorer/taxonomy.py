"""The tag taxonomy shared by the training, build and evaluation scripts.

The Rust side reads the same lists from the model's metadata (`subtext.scorer`), so
this file is the single place where label ids and their order are defined.
"""

EMOTIONS = [
    "anger", "frustration", "disappointment", "sadness", "worry", "uncertainty", "distrust",
    "indifference", "relief", "trust", "appreciation", "joy", "surprise", "neutral",
]
METAPHORS = ["none", "balance", "transformation", "journey", "container", "connection",
             "resource", "control"]
NEEDS = ["none", "be_heard", "reassurance", "clarity_control", "fairness", "time_effort",
         "ownership", "rescue_moment", "belonging"]
CONTACT_TYPES = ["other", "question", "complaint", "compliment", "cancellation"]

# Which emotions count as positive / negative when a set only has polarity labels.
POSITIVE = {"relief", "trust", "appreciation", "joy"}
NEGATIVE = {"anger", "frustration", "disappointment", "sadness", "worry", "uncertainty",
            "distrust", "indifference"}

# External label sets mapped onto ours; labels missing here are not used.
GOEMOTIONS_MAP = {
    "anger": "anger", "annoyance": "frustration", "disgust": "anger",
    "disappointment": "disappointment", "sadness": "sadness", "grief": "sadness",
    "remorse": "sadness", "fear": "worry", "nervousness": "worry", "confusion": "uncertainty",
    "relief": "relief", "admiration": "appreciation", "gratitude": "appreciation",
    "approval": "trust", "joy": "joy", "amusement": "joy", "excitement": "joy", "love": "joy",
    "optimism": "joy", "pride": "joy", "surprise": "surprise", "neutral": "neutral",
}
# XED: 1 anger, 2 anticipation, 3 disgust, 4 fear, 5 joy, 6 sadness, 7 surprise, 8 trust.
XED_MAP = {1: "anger", 3: "anger", 4: "worry", 5: "joy", 6: "sadness", 7: "surprise", 8: "trust"}
# Dutch political tweets (evaluation only).
TWEETS_MAP = {"admiration": "appreciation", "disappointment": "disappointment",
              "optimism": "joy", "scepticism": "distrust", "no emotion": "neutral"}

# Dutch display names, written into every transcript's label table.
DISPLAY_NL = {
    "anger": "boosheid", "frustration": "frustratie", "disappointment": "teleurstelling",
    "sadness": "verdriet", "worry": "zorgen", "uncertainty": "onzekerheid",
    "distrust": "wantrouwen", "indifference": "onverschilligheid", "relief": "opluchting",
    "trust": "vertrouwen", "appreciation": "waardering", "joy": "blijdschap",
    "surprise": "verrassing", "neutral": "neutraal",
}


def split_of(item_id: str) -> str:
    """The fixed split of an in-domain item: 70% train, 10% dev, 20% test, by id hash."""
    import hashlib
    bucket = int(hashlib.sha256(item_id.encode("utf-8")).hexdigest()[:8], 16) % 10
    return "train" if bucket < 7 else ("dev" if bucket == 7 else "test")
