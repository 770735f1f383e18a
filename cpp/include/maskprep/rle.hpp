// COCO run-length encoding: the spec.
//
// A mask of h x w pixels is read in column-major order (linear index x*h + y, pycocotools'
// convention). Its RLE is the list of run lengths, alternating background, foreground, ...,
// starting with background (so counts[0] may be 0). Any nonzero byte is foreground.
// Counts are 64-bit: masks above 2^32 pixels are exact (pycocotools' 32-bit counts wrap).
//
// The compressed string form is byte-identical to pycocotools' rleToString: each value is
// stored in 5-bit groups, least significant first, one character (48 + group | 0x20 if more
// follow) per group, the last group's bit 0x10 being the sign; from index 3 on, the value stored
// is counts[i] - counts[i-2]. Every 64-bit count round-trips: a difference that does not fit in
// int64 (counts of 2^63 and more, which pycocotools cannot hold) takes 13 characters, the 65-bit
// two's complement; below that the output is pycocotools' byte for byte.
//
// Size limit: an h x w RLE needs h*w to fit in int64 (checked wherever h*w is formed; larger
// sizes raise std::invalid_argument naming them), so every valid RLE's counts are < 2^63.
//
// Threading: every batch function takes an explicit num_threads and parallelises across objects
// (or, for one interleaved H x W x N array, across row bands). Nothing here touches Python.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "maskprep/common.hpp"

namespace maskprep::rle {

using count_t = std::uint64_t;
using Counts = std::vector<count_t>;

// ---- compressed strings -------------------------------------------------------------------------

// Appends the compressed form of counts[0..m) to out.
void append_string(const count_t* counts, index_t m, std::string& out);
std::string to_string(const Counts& counts);

// Parses a compressed string of len bytes into counts (replaced) and returns their sum. Throws
// std::invalid_argument naming the byte offset for: a byte outside '0'..'o', a value whose
// continuation is truncated, a value longer than 13 characters (65 bits), a count that decodes
// negative or above 2^64 - 1, and counts whose sum overflows 64 bits unless sum_overflows is
// given (then set instead, and the returned sum is meaningless when it is true: for callers that
// want the counts alone).
count_t from_string(const char* s, index_t len, Counts& counts, bool* sum_overflows = nullptr);

// Sum of all counts; throws std::invalid_argument on 64-bit overflow.
count_t total(const Counts& counts);

// The batch form of from_string, for n RLEs of sizes h[i] x w[i]: where s[i] is not null, parses
// s[i][0..len[i]) into out[i]; where it is null, out[i] already holds uncompressed counts. Then
// checks that every out[i] sums to h[i]*w[i]. Parallel across RLEs.
// Throws: IndexedError(i, ": " + reason) for the first bad RLE i in index order (a bad byte,
// counts that overflow, a sum other than h*w, an h*w that does not fit in 64 bits).
void from_strings(const char* const* s, const index_t* len, const index_t* h, const index_t* w,
                  index_t n, Counts* out, int num_threads);

// The batch form of to_string: out[i] = to_string(counts[i]) for i in [0, n). Parallel across
// RLEs. Throws: nothing but std::bad_alloc.
void to_strings(const Counts* counts, index_t n, std::string* out, int num_threads);

// ---- encode / decode ----------------------------------------------------------------------------

// Memory layouts of a batch of n masks of h x w bytes.
enum class Layout {
  kColumnMajor,  // mask i at data + i*h*w, pixel (y, x) at x*h + y   (H x W x N Fortran,
                 // pycocotools)
  kRowMajor,     // mask i at data + i*h*w, pixel (y, x) at y*w + x   (N x H x W C-order)
  kInterleaved,  // pixel (y, x) of mask i at (y*w + x)*n + i          (H x W x N C-order)
};

// Encodes n masks; out is resized to n. Works on the caller's layout without a transposing copy.
void encode(const byte_t* data, index_t h, index_t w, index_t n, Layout layout,
            std::vector<Counts>& out, int num_threads);

// Decodes n RLEs, all of size h x w, into out (h*w*n bytes of 0/1) in kColumnMajor or
// kRowMajor layout. Every RLE must sum to exactly h*w (checked before writing anything; throws
// std::invalid_argument naming the index otherwise).
void decode(const std::vector<const Counts*>& rles, index_t h, index_t w, Layout layout,
            byte_t* out, int num_threads);

// ---- measures -----------------------------------------------------------------------------------

count_t area(const Counts& counts);  // sum of the foreground (odd-index) runs

// area for n RLEs into out[0..n). Parallel across RLEs. Throws: nothing.
void area(const Counts* counts, index_t n, count_t* out, int num_threads);

// pycocotools' rleToBbox, [x, y, width, height] of the foreground, in 64-bit arithmetic; an RLE
// with no foreground gives [0, 0, 0, 0] (pycocotools returns wrapped garbage for e.g. [100, 0]).
void to_bbox(const Counts& counts, index_t h, index_t w, double out[4]);

// to_bbox for n RLEs of sizes h[i] x w[i] into out[4*i .. 4*i + 4). Parallel across RLEs.
// Throws: nothing.
void to_bbox(const Counts* counts, const index_t* h, const index_t* w, index_t n, double* out,
             int num_threads);

// area and to_bbox of n RLEs given as from_strings takes them (s[i] a compressed string, or null
// and given[i] the counts), with from_strings' checks and errors, without keeping the counts of
// the strings. Parallel across RLEs.
void area(const char* const* s, const index_t* len, const index_t* h, const index_t* w,
          const Counts* given, index_t n, count_t* out, int num_threads);
void to_bbox(const char* const* s, const index_t* len, const index_t* h, const index_t* w,
             const Counts* given, index_t n, double* out, int num_threads);

// pycocotools' bbIou: dt (m x 4) against gt (n x 4) boxes [x, y, w, h]; out[d*n + g] (note:
// dt-major, the transpose of pycocotools' internal buffer, i.e. its returned (m, n) matrix).
// For a crowd gt the union is the dt area. iscrowd may be null. The boxes are only read as
// values (no index comes from them), so they may be the caller's live buffers.
void bbox_iou(const double* dt, index_t m, const double* gt, index_t n, const byte_t* iscrowd,
              double* out, int num_threads);

// pycocotools' rleIou: the box IoU of the RLE bounding boxes filters the pairs (only pairs with
// box IoU > 0 are computed; others are 0), then |dt & gt| / |dt | gt|, or / |dt| for a crowd gt.
// All RLEs must be h x w (the caller checks). out[d*n + g].
void iou(const std::vector<const Counts*>& dt, const std::vector<const Counts*>& gt, index_t h,
         index_t w, const byte_t* iscrowd, double* out, int num_threads);

// pycocotools' rleMerge: union (or intersection) of n >= 1 RLEs of the same size. n == 1 returns
// the input unchanged (as pycocotools does); otherwise the result is canonical (no empty runs
// but a possible leading 0).
// Throws: std::invalid_argument for an empty list or counts whose sum overflows 64 bits.
void merge(const std::vector<const Counts*>& rles, bool intersect, Counts& out);

// Many independent merges of RLEs given as from_strings takes them: group g is the RLEs
// [offsets[g], offsets[g+1]) (offsets has n_groups + 1 entries, non-decreasing; the caller checks
// each group is of one size). Each group's RLEs are parsed into counts[k] and checked as
// from_strings does, then merged: out[g] is the compressed string of merge(group g); an empty
// group gives "" (pycocotools' merge([]) is {'size': [0, 0], 'counts': b''}). Parallel across
// groups.
// Throws: IndexedError(k, ": " + reason) for the first bad RLE k (its index among all groups').
void merge_groups(const char* const* s, const index_t* len, const index_t* h, const index_t* w,
                  Counts* counts, const index_t* offsets, index_t n_groups, bool intersect,
                  std::string* out, int num_threads);

}  // namespace maskprep::rle
