#pragma once

/* The LEB128 varints and zigzag coding of the packed BLOBs (store-pack.c, store-pack-side.c). */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* Writes v at p (at most 10 bytes); returns the bytes written. */
static inline size_t put_varint(uint8_t *p, uint64_t v)
{
        size_t n = 0;
        while (v >= 0x80) {
                p[n++] = (uint8_t)(v | 0x80);
                v >>= 7;
        }
        p[n++] = (uint8_t)v;
        return n;
}

/* Reads a varint at p[*at] (len bytes in all), advancing *at. -EBADMSG past the end or beyond 64
 * bits' worth of bytes. */
static inline int get_varint(const uint8_t *p, size_t len, size_t *at, uint64_t *ret)
{
        uint64_t v = 0;
        for (unsigned shift = 0; shift < 64; shift += 7) {
                if (*at >= len)
                        return -EBADMSG;
                uint8_t b = p[(*at)++];
                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *ret = v;
                        return 0;
                }
        }
        return -EBADMSG;
}

static inline uint64_t zigzag(int64_t v)
{
        return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t unzigzag(uint64_t v)
{
        return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}
