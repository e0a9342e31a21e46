"""Where a Markdown page quotes code: fenced blocks and code spans. A marker or a link shown
there is an example, so the generator and the link check both look past it."""

from __future__ import annotations

import re

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
CODE_SPAN = re.compile(r"`(?:[^`\n]|\n(?!\n))+`")  # a span may wrap onto the next line
CODE = re.compile(f"{FENCE.pattern}|{CODE_SPAN.pattern}", re.S | re.M)  # fences first
