"""Ad sets, ads and breakdown segments under the generated campaigns: ids, names, settings and delivery profiles.

Deterministic from the seed. The profiles say how a campaign's day is shared among its parts (sandbox.ad_splits).
"""

from __future__ import annotations

import hashlib
import random

from sandbox.ad_splits import Profile

AGES = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
GENDERS = ("female", "male", "unknown")
# (publisher_platform, platform_position), as Meta names them.
PLACEMENTS = (("facebook", "feed"), ("facebook", "facebook_reels"), ("facebook", "facebook_stories"),
              ("facebook", "marketplace"), ("facebook", "video_feeds"), ("facebook", "right_hand_column"),
              ("instagram", "feed"), ("instagram", "instagram_reels"), ("instagram", "instagram_stories"),
              ("instagram", "instagram_explore"), ("audience_network", "classic"), ("messenger", "messenger_inbox"))
# Breakdown families the demo data carries: the segment keys each one splits an ad's day into.
FAMILIES = {"demographics": ("age", "gender"), "placements": ("publisher_platform", "platform_position")}

_AGE_SHARE = (0.14, 0.29, 0.24, 0.16, 0.11, 0.06)
_GENDER_SHARE = (0.56, 0.41, 0.03)
_PLACEMENT_SHARE = (0.34, 0.08, 0.06, 0.04, 0.03, 0.01, 0.22, 0.1, 0.07, 0.02, 0.02, 0.01)
_OPTIMIZATION = {"OUTCOME_SALES": "OFFSITE_CONVERSIONS", "OUTCOME_TRAFFIC": "LINK_CLICKS", "OUTCOME_AWARENESS": "REACH"}
_AUDIENCES = ("Broad 18-65+", "Lookalike 1% Purchasers", "Interests: Home & Living", "Website Visitors 30d",
              "Advantage+ Audience", "Engaged Shoppers", "Lookalike 3% Add to Cart")
_CREATIVES = ("Video | UGC Review", "Carousel | Bestsellers", "Static | Seasonal Offer", "Collection | New In",
              "Reel | Founder Story", "Static | Free Shipping", "Video | Product Demo")


def seeded_rng(*parts: object) -> random.Random:
    """A random generator determined by ``parts`` alone."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _profile(rng: random.Random, share: float = 1.0) -> Profile:
    return Profile(share * rng.lognormvariate(0, 0.45), rng.uniform(0.8, 1.25), rng.uniform(0.8, 1.25),
                   rng.uniform(0.7, 1.4))


def adsets(seed: int, campaign: dict) -> list[dict]:
    """A campaign's ad sets, each with its ads: {"id","name","optimization_goal","profile","ads":[...]}."""
    rng = seeded_rng(seed, campaign["id"], "adsets")
    out = []
    for j in range(rng.randint(1, 3)):
        adset_id = str(120210000000000000 + rng.randrange(10**14) * 10 + j)
        ads = []
        for k in range(rng.randint(1, 3)):
            ads.append({"id": str(120220000000000000 + rng.randrange(10**14) * 10 + k),
                        "name": f"{_CREATIVES[(j * 3 + k + len(campaign['name'])) % len(_CREATIVES)]} #{k + 1}",
                        "creative_id": str(120230000000000000 + rng.randrange(10**14) * 10 + k),
                        "profile": _profile(rng)})
        out.append({"id": adset_id,
                    "name": f"{_AUDIENCES[(j + len(campaign['name'])) % len(_AUDIENCES)]} | Ad set {j + 1}",
                    "optimization_goal": _OPTIMIZATION[campaign["objective"]],
                    "profile": _profile(rng), "ads": ads})
    return out


def segments(seed: int, account_id: str, family: str) -> list[tuple[dict, Profile]]:
    """An account's audience for a breakdown family: (segment keys, profile) pairs covering all its delivery."""
    rng = seeded_rng(seed, account_id, "segments", family)
    if family == "demographics":
        cells = [({"age": age, "gender": gender}, a * g) for age, a in zip(AGES, _AGE_SHARE, strict=True)
                 for gender, g in zip(GENDERS, _GENDER_SHARE, strict=True)]
    else:
        cells = [({"publisher_platform": platform, "platform_position": position}, share)
                 for (platform, position), share in zip(PLACEMENTS, _PLACEMENT_SHARE, strict=True)]
    return [(keys, _profile(rng, share)) for keys, share in cells]
