#!/usr/bin/env python3
"""Write the guide as a small PDF (one A4 page, Helvetica, WinAnsi text)
with no PDF library: the guide's paragraphs, wrapped. Same input, same
bytes (no dates, fixed ID)."""
import html, re, sys, textwrap

src = open(sys.argv[1], encoding="utf-8").read()
blocks = []
for tag, body in re.findall(r"<(h1|h2|p|li)[^>]*>(.*?)</\1>", src, re.S):
    text = html.unescape(re.sub(r"<[^>]+>", "", body))
    text = " ".join(text.split())
    blocks.append((tag, text))

lines = []  # (size, text)
for tag, text in blocks:
    size = {"h1": 18, "h2": 13}.get(tag, 10)
    width = {"h1": 50, "h2": 70}.get(tag, 100)
    prefix = "- " if tag == "li" else ""
    for i, l in enumerate(textwrap.wrap(prefix + text, width)):
        lines.append((size, l))
    lines.append((6, ""))

def esc(s):
    b = s.encode("cp1252", "replace")
    return b.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")

content = b"BT\n/F1 10 Tf\n50 800 Td\n"
y = 0
for size, l in lines:
    lead = size + 3
    content += b"/F1 %d Tf\n0 -%d Td\n(" % (size, lead) + esc(l) + b") Tj\n"
content += b"ET\n"

objs = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
    b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
    b"<< /Title (Le po\xeale \xe0 bois \xe9conome) /Author (Projet CLIC!) >>",
]
out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
offsets = []
for i, o in enumerate(objs, 1):
    offsets.append(len(out))
    out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
xref = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
for off in offsets:
    out += b"%010d 00000 n \n" % off
out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R /ID [<636c6963> <636c6963>] >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
open(sys.argv[2], "wb").write(out)
