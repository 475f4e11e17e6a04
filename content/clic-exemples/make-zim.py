#!/usr/bin/env python3
"""Write a ZIM file of the guide with libzim (pip install libzim): its
pages as articles, the main page first. Usage: make-zim.py GUIDE_DIR OUT.zim"""
import os, struct, sys, zlib
from libzim.writer import Creator, Item, StringProvider, Hint

class Page(Item):
    def __init__(self, path, title, mimetype, data, front):
        super().__init__()
        self.p, self.t, self.m, self.d, self.f = path, title, mimetype, data, front
    def get_path(self): return self.p
    def get_title(self): return self.t
    def get_mimetype(self): return self.m
    def get_contentprovider(self): return StringProvider(self.d)
    def get_hints(self): return {Hint.FRONT_ARTICLE: self.f}

def png48():
    """A plain green 48x48 PNG: kiwix lists books with an illustration."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    raw = b"".join(b"\0" + bytes([31, 95, 42]) * 48 for _ in range(48))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 48, 48, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

guide, out = sys.argv[1], sys.argv[2]
with Creator(out).config_indexing(False, "fra") as c:
    c.set_mainpath("index.html")
    c.add_illustration(48, png48())
    for k, v in {"Name": "clic_poele", "Title": "Le poêle à bois économe",
                 "Language": "fra", "Creator": "Projet CLIC!", "Publisher": "Projet CLIC!",
                 "Description": "Guide low-tech écrit pour le projet CLIC!",
                 "Date": "2025-01-01", "License": "CC-BY-SA-4.0"}.items():
        c.add_metadata(k, v)
    for name in sorted(os.listdir(guide)):
        data = open(os.path.join(guide, name), "rb").read()
        mime = "text/html" if name.endswith(".html") else "text/css"
        c.add_item(Page(name, "Le poêle à bois économe" if name == "index.html" else name,
                        mime, data.decode("utf-8"), name == "index.html"))
