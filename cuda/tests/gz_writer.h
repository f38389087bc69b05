/*
 * gz_writer.h — gzip members for the C tests, the reader's fuzz target and the conformance suite:
 * plain framing, an FNAME header, or bgzip's BGZF framing (the BC extra field holding the member's
 * size). Header-only; ISA-L deflates (level 0 or 1). Not thread-safe (one static level buffer).
 */
#ifndef BG_GZ_WRITER_H
#define BG_GZ_WRITER_H

#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <stdint.h>
#include <string.h>

enum { GZ_PLAIN, GZ_BGZF, GZ_FNAME };

/** Bytes a member of n input bytes may take at most (header, stored blocks, trailer). */
static inline size_t gz_member_bound(size_t n) { return n + n / 2 + 1024; }

/**
 * Writes one gzip member holding data[0..n) at out (cap bytes of room) and returns its size; 0 when it
 * does not fit, or when a BGZF member would pass BGZF's 64 KiB limit.
 */
static inline size_t gz_write_member(uint8_t *out, size_t cap, const void *data, size_t n, int kind, int level) {
  static const uint8_t plain[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  static const uint8_t bgzf[18] = {0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, 'B', 'C', 2, 0, 0, 0};
  static const uint8_t fname[26] = {0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3, 's', 'a', 'm', 'p', 'l', 'e', '_', 'R', '1',
                                    '.',  'f',  'a', 's', 't', 'q', 0};
  static uint8_t level_buf[ISAL_DEF_LVL1_DEFAULT];
  const uint8_t *hdr = kind == GZ_BGZF ? bgzf : kind == GZ_FNAME ? fname : plain;
  size_t h = kind == GZ_BGZF ? sizeof bgzf : kind == GZ_FNAME ? sizeof fname : sizeof plain;
  if (cap < h + 8) return 0;
  memcpy(out, hdr, h);
  struct isal_zstream zs;
  isal_deflate_init(&zs);
  zs.level = (uint32_t)level;
  if (level > 0) {
    zs.level_buf = level_buf;
    zs.level_buf_size = sizeof level_buf;
  }
  zs.gzip_flag = IGZIP_DEFLATE;
  zs.end_of_stream = 1;
  zs.flush = NO_FLUSH;
  zs.next_in = (uint8_t *)data;
  zs.avail_in = (uint32_t)n;
  zs.next_out = out + h;
  zs.avail_out = (uint32_t)(cap - h - 8);
  if (isal_deflate(&zs) != COMP_OK || zs.avail_in != 0 || zs.internal_state.state != ZSTATE_END) return 0;
  size_t at = h + zs.total_out;
  uint32_t crc = crc32_gzip_refl(0, (const unsigned char *)data, n), isize = (uint32_t)n;
  for (int i = 0; i < 4; i++) out[at + i] = (uint8_t)(crc >> (8 * i)), out[at + 4 + i] = (uint8_t)(isize >> (8 * i));
  at += 8;
  if (kind == GZ_BGZF) {
    if (at - 1 > 0xffff) return 0;
    out[16] = (uint8_t)((at - 1) & 0xff);
    out[17] = (uint8_t)((at - 1) >> 8);
  }
  return at;
}

/** The 28-byte empty member bgzip writes at the end of every file. */
static const uint8_t BGZF_EOF[28] = {0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, 0x42, 0x43,
                                     2,    0,    0x1b, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0};

#endif
