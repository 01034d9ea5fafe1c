"""Every colour of the window, its charts and its PDFs: one place to change a shade.

Colour is never the only cue (each level also has an icon or words); these are the shades.
They are hex strings, so a style sheet, rich text, a PDF helper and ``QColor`` all take them.
Each map below gives the verdict levels (or colour roles, or banner kinds) the colours of one
way of drawing them; they share the shades above them.
"""

from __future__ import annotations

from desktop import verdict

# Shades ------------------------------------------------------------------------------------
RED = "#b71c1c"  # possible melanoma: the alert, its threshold, overdue reviews, a refusal
DARK_RED = "#7f0000"  # the alert banner's border; a warning line in a PDF
UNREADABLE_RED = "#8a1c1c"  # the text of a row whose file could not be read
CRIMSON = "#c62828"
ORANGE = "#a33a00"  # another skin cancer: refer
DARK_ORANGE = "#6d2700"
AMBER = "#e65100"  # a pre-cancerous lesion's border; the model card's warning
AMBER_TINT = "#fff3e0"
NAME_HINT = "#8a5a00"  # "this looks like a name"
PURPLE = "#5e35b1"  # an uncertain result's border
PURPLE_TINT = "#ede7f6"
PINK_TINT = "#fdecea"  # a file that could not be read
BLUE = "#3f6fb5"  # the other classes' bars, the chart's line, the info banner's border
BLUE_TINT = "#e8f0fe"
AMBER_MARK = "#ffb300"
BLACK = "#000000"
NEAR_BLACK = "#1a1a1a"  # text on a pale banner or cell
WHITE = "#ffffff"
SLATE = "#37474f"  # no alert (and a level without a colour of its own)
DARK_SLATE = "#263238"  # the disclaimer bar; headings and rules in a PDF
BLUE_GREY = "#607d8b"  # an earlier result, the model's name
LIGHT_BLUE_GREY = "#78909c"  # an earlier result on the chart; a PDF's image id
DARK_BLUE_GREY = "#455a64"
PALE_BLUE_GREY = "#cfd8dc"  # the chart's grid; cannot assess
FAINT_BLUE_GREY = "#eceff1"  # an answer without an alert (PDF box)
GREY = "#9e9e9e"  # cannot assess (chart, timeline)
PALE_GREY = "#eeeeee"  # an unreadable file (table cell)
TRACK_GREY = "#e0e0e0"  # the empty part of a PDF probability bar
SMALL_PRINT = "#444444"  # a PDF's small print
PHOTO_BACKGROUND = "#26282b"  # behind photos, screen and PDF: neutral, keeps skin tones true
PHOTO_TEXT = "#dcdee1"  # words on PHOTO_BACKGROUND

# Probability bars (window and PDF) ---------------------------------------------------------
MELANOMA_BAR = CRIMSON
OTHER_BAR = BLUE

# Chart -------------------------------------------------------------------------------------
CHART_BACKGROUND = WHITE
CHART_LINE = BLUE
CHART_THRESHOLD = RED
CHART_GRID = PALE_BLUE_GREY
CHART_TEXT = DARK_BLUE_GREY
CHART_EARLIER = LIGHT_BLUE_GREY  # a visit's earlier results (rings)
CHART_HIGHLIGHT = AMBER_MARK  # the ring around the visits on screen
CHART_LABEL_BACKING = "#c8ffffff"  # white at alpha 200 (#AARRGGBB: for QColor only)

# Levels ------------------------------------------------------------------------------------
# Text and marks on white (chart, timeline, PDFs); a level without an entry is SLATE.
LEVEL_INK = {
    verdict.ALERT: RED,
    verdict.NO_ALERT: SLATE,
    verdict.CANNOT_ASSESS: GREY,
}


def level_ink(level: str) -> str:
    """The colour a level's words and marks are drawn in on white."""
    return LEVEL_INK.get(level, SLATE)


# (background, text) of a level's cell in the batch table; a level without one is uncoloured.
LEVEL_FILL = {
    verdict.ALERT: (RED, WHITE),
    verdict.REFER: (ORANGE, WHITE),
    verdict.PRECANCEROUS: (AMBER_TINT, NEAR_BLACK),
    verdict.CANNOT_ASSESS: (PALE_BLUE_GREY, NEAR_BLACK),
    verdict.ERROR: (PALE_GREY, NEAR_BLACK),
}

# (background, text) of a PDF's verdict box, per verdict colour role; its title says it in words.
ROLE_FILL = {
    verdict.DANGER: (RED, WHITE),
    verdict.WARNING: (ORANGE, WHITE),
    verdict.CAUTION: (PURPLE_TINT, BLACK),
    verdict.NEUTRAL: (FAINT_BLUE_GREY, BLACK),
    verdict.MUTED: (PALE_BLUE_GREY, BLACK),
    verdict.FAILED: (PINK_TINT, BLACK),
}

# (background, text, border) per banner kind (desktop.qt.views.banners).
BANNER = {
    "alert": (RED, WHITE, DARK_RED),
    # Another skin cancer (refer) and a pre-cancerous lesion: orange, below melanoma's red.
    "refer": (ORANGE, WHITE, DARK_ORANGE),
    "precancerous": (AMBER_TINT, NEAR_BLACK, AMBER),
    "uncertain": (PURPLE_TINT, NEAR_BLACK, PURPLE),
    "error": (PINK_TINT, NEAR_BLACK, RED),
    "info": (BLUE_TINT, NEAR_BLACK, BLUE),
}
