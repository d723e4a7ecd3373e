"""The profile facts' vocabulary in words, and which kinds and features imply others.

The values themselves are the catalogue's (compliance/catalogue/schema.py); a profile states
its children as one of CHILD_ACCESS, a scale rather than the catalogue's three conditions.
"""

from __future__ import annotations

# What a profile says about children, weakest first. Each level includes those before it: a
# service aimed at children knows it has child users, and one that knows it has them is
# likely to be used by them.
CHILD_ACCESS = ("unlikely", "likely", "known", "directed")
CHILD_ACCESS_LABELS = {
    "unlikely": "Children are unlikely to use it",
    "likely": "Children are likely to use it",
    "known": "Children use it (the company knows it has child users)",
    "directed": "It is aimed at children",
}
CHILD_FACTS = {
    "unlikely": "children are unlikely to use it",
    "likely": "children are likely to use it",
    "known": "it has known child users",
    "directed": "it is aimed at children",
}
CHILD_CONDITIONS = {
    "likely": "services children are likely to use",
    "known": "services with known child users",
    "directed": "services aimed at children",
}

# The kinds each kind also is, from the definitions in regulations/README.md ("online
# platform: hosting that also spreads users' content to the public", ...). Every kind is also
# an online-service.
KIND_IMPLIES: dict[str, tuple[str, ...]] = {
    "mere-conduit": ("intermediary",),
    "caching": ("intermediary",),
    "hosting": ("intermediary",),
    "search": ("intermediary",),  # DSA Art. 3(j): search engines are intermediary services
    "online-platform": ("hosting",),
    "marketplace": ("online-platform",),
    "app-store": ("online-platform",),  # designated as online platforms under the DSA
    "social-media": ("online-platform", "user-to-user"),
    "video-sharing": ("online-platform", "user-to-user"),
    "messaging": ("user-to-user",),
    "dating": ("user-to-user",),
}
FEATURE_IMPLIES: dict[str, tuple[str, ...]] = {"targeted-advertising": ("advertising",)}

KIND_LABELS = {
    "online-service": "online service",
    "intermediary": "intermediary service",
    "mere-conduit": "mere conduit",
    "caching": "caching service",
    "hosting": "hosting service",
    "online-platform": "online platform",
    "marketplace": "marketplace",
    "search": "search engine",
    "user-to-user": "user-to-user service",
    "social-media": "social network",
    "video-sharing": "video-sharing platform",
    "messaging": "messaging service",
    "app-store": "app store",
    "adult-content": "adult-content service",
    "gaming": "online game",
    "dating": "dating service",
    "ai-service": "AI service",
    "ads-intermediary": "advertising intermediary",
}
FEATURE_LABELS = {
    "recommender": "recommender systems",
    "advertising": "advertising",
    "targeted-advertising": "targeted advertising",
    "live-streaming": "live streaming",
    "direct-messages": "direct messages",
    "e2ee": "end-to-end encryption",
    "user-generated-content": "user-generated content",
    "payments": "payments",
    "generative-ai": "generative AI",
    "search-function": "search within the service",
    "geolocation": "geolocation",
    "personal-data": "collects personal data",
}
# How explanations state a feature: (has it, lacks it).
FEATURE_FACTS = {
    "recommender": ("uses recommender systems", "uses no recommender systems"),
    "advertising": ("shows advertising", "shows no advertising"),
    "targeted-advertising": ("shows targeted advertising", "shows no targeted advertising"),
    "live-streaming": ("offers live streaming", "offers no live streaming"),
    "direct-messages": ("offers direct messages", "offers no direct messages"),
    "e2ee": ("uses end-to-end encryption", "uses no end-to-end encryption"),
    "user-generated-content": ("hosts user-generated content", "hosts no user-generated content"),
    "payments": ("takes payments", "takes no payments"),
    "generative-ai": ("offers generative AI", "offers no generative AI"),
    "search-function": ("lets users search within it", "has no search within it"),
    "geolocation": ("uses geolocation", "uses no geolocation"),
    "personal-data": ("collects personal data", "collects no personal data"),
}
SIZE_LABELS = {
    "micro": "micro enterprise",
    "small": "small enterprise",
    "medium": "medium-sized enterprise",
    "large": "large company",
}
