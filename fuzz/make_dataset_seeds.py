#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_dataset_readers (fuzz/corpus/fuzz_dataset_readers/): one small,
valid file per format, prefixed with the format byte the harness reads first (see the comment at
the top of fuzz_dataset_readers.cpp). Valid seeds let the fuzzer start past the headers.
PNGs are written here; the JPEGs by a few lines of C against libjpeg (a build dependency), compiled
with `cc` on the fly. Run from the repository root."""
import gzip
import zlib
import lzma
import pathlib
import struct
import subprocess
import tempfile

CIFAR10, CIFAR100, IDX, IDX_GZIP, IMAGE, STREAMED_SAMPLE = range(6)
out = pathlib.Path("fuzz/corpus/fuzz_dataset_readers")
out.mkdir(parents=True, exist_ok=True)


def seed(name, fmt, payload):
    (out / name).write_bytes(bytes([fmt]) + payload)


pixels = bytes(i % 251 for i in range(3072))
seed("cifar10_two_records", CIFAR10, bytes([3]) + pixels + bytes([9]) + pixels)
seed("cifar10_xz", CIFAR10, lzma.compress(bytes([1]) + pixels))
seed("cifar100_one_record", CIFAR100, bytes([19, 99]) + pixels)


def idx_pair(count=2, rows=4, cols=3):
    images = struct.pack(">IIII", 0x803, count, rows, cols) + bytes(range(count * rows * cols))
    labels = struct.pack(">II", 0x801, count) + bytes(range(count))
    return images, labels


def split(images, labels):
    return struct.pack("<H", len(images)) + images + labels


images, labels = idx_pair()
seed("idx_raw", IDX, split(images, labels))
seed("idx_gzip_files", IDX, split(gzip.compress(images, mtime=0), gzip.compress(labels, mtime=0)))
seed("idx_gzip_by_harness", IDX_GZIP, split(images, labels))



def png(width, height, color_type, depth, rows, interlace=0, palette=None):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, interlace)
    body = chunk(b"IHDR", header)
    if palette:
        body += chunk(b"PLTE", palette)
    raw = b"".join(b"\0" + row for row in rows)  # filter type 0 on every row
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


w, h = 5, 4
seed("png_rgb", IMAGE, png(w, h, 2, 8, [bytes(
    v for x in range(w) for v in (x * 50, y * 60, 7)) for y in range(h)]))
seed("streamed_png_rgb", STREAMED_SAMPLE, bytes([0x0F, 7]) + (out / "png_rgb").read_bytes()[1:])
seed("png_gray16", IMAGE, png(w, h, 0, 16, [bytes(v for x in range(w) for v in (x * 40, y)) for y in range(h)]))
seed("png_palette_2bit", IMAGE, png(w, h, 3, 2, [bytes([0b00011011, 0b01000000]) for _ in range(h)],
                                    palette=bytes([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])))
seed("png_gray_alpha_interlaced", IMAGE,
     png(w, h, 4, 8, [bytes(v for x in range(w) for v in (x * 30, 255)) for y in range(h)], interlace=1))

JPEG_WRITER = r"""
#include <stdio.h>
#include <jpeglib.h>
int main(int argc, char** argv) {
    int channels = argv[2][0] - '0', width = 5, height = 4;
    FILE* out = fopen(argv[1], "wb");
    struct jpeg_compress_struct c; struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e); jpeg_create_compress(&c); jpeg_stdio_dest(&c, out);
    c.image_width = width; c.image_height = height; c.input_components = channels;
    c.in_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&c); jpeg_set_quality(&c, 50, TRUE);
    if (argc > 3) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    unsigned char row[5 * 3];
    for (int y = 0; y < height; ++y) {
        for (int i = 0; i < width * channels; ++i) row[i] = (unsigned char)(i * 17 + y * 40);
        JSAMPROW r = row; jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c); fclose(out); jpeg_destroy_compress(&c);
    return 0;
}
"""
with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    (tmp / "w.c").write_text(JPEG_WRITER)
    subprocess.run(["cc", "-o", str(tmp / "w"), str(tmp / "w.c"), "-ljpeg"], check=True)
    for name, args in [("jpeg_rgb", ["3"]), ("jpeg_gray", ["1"]), ("jpeg_rgb_progressive", ["3", "p"])]:
        subprocess.run([str(tmp / "w"), str(tmp / "out.jpg"), *args], check=True)
        seed(name, IMAGE, (tmp / "out.jpg").read_bytes())
        # The same image as a streamed sample: random-resized crop, scaled and partial decode, flip.
        seed("streamed_" + name, STREAMED_SAMPLE, bytes([0x0F, 7]) + (tmp / "out.jpg").read_bytes())
        if name == "jpeg_rgb":  # and evaluation's centre crop, scaled decode only
            seed("streamed_jpeg_rgb_centre", STREAMED_SAMPLE, bytes([0x02, 3]) + (tmp / "out.jpg").read_bytes())
