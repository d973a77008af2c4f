"""Renders samples/text-line.png, the OCR demo's input: one dark line of Latin text on a light ground, 48 px high
(PP-OCRv4's recognizer height) and 320 px wide (its usual width), grey (the recognizer reads 3 equal channels)."""
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

TEXT = "Gradlens 2026"
HEIGHT, WIDTH = 48, 320
font = ImageFont.truetype("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf", 34)
image = Image.new("L", (WIDTH, HEIGHT), 245)
draw = ImageDraw.Draw(image)
left, top, right, bottom = draw.textbbox((0, 0), TEXT, font=font)
draw.text(((WIDTH - (right - left)) / 2 - left, (HEIGHT - (bottom - top)) / 2 - top), TEXT, fill=20, font=font)
out = Path(__file__).resolve().parents[2] / "samples" / "text-line.png"
image.save(out, optimize=True)
print(out, out.stat().st_size, "bytes")
