// Smoothing and contrast: Gaussian blur and histogram equalisation, matching OpenCV.
//
// Images are row-major (H, W, C) with interleaved channels (C = 1 for gray). Borders are
// BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba), OpenCV's default.
#pragma once

#include <cstdint>
#include <vector>

#include "maskprep/common.hpp"

namespace maskprep::imgproc {

// OpenCV's kernel size for a sigma: round(sigma * (uint8 ? 3 : 4) * 2 + 1) | 1 (round half to
// even, as cvRound). sigma must be > 0.
// Throws: std::invalid_argument unless 0 < sigma < 1e8 (finite).
index_t gaussian_ksize_for_sigma(double sigma, bool uint8);

// OpenCV's Gaussian taps (getGaussianKernel): the fixed tables for sigma <= 0 and n <= 9,
// else exp(-x^2 / (2 sigma^2)) normalised, sigma <= 0 meaning 0.3*((n-1)/2 - 1) + 0.8.
// Throws: std::invalid_argument for n <= 0 or an n that cannot be allocated.
std::vector<double> gaussian_kernel(index_t n, double sigma);
// The 8-bit path's taps: gaussian_kernel in 8 fractional bits, rounded with OpenCV's error
// diffusion from the outside in, the centre tap absorbing the rest so that they sum to 256.
// Throws: std::invalid_argument unless n is odd and positive.
std::vector<std::uint16_t> gaussian_kernel_fixed(index_t n, double sigma);

// Separable Gaussian blur (cv2.GaussianBlur, BORDER_REFLECT_101). ksize_y/ksize_x: odd and
// positive, or <= 0 to derive them from the sigmas; sigma_y/sigma_x >= 0 (0: from the size).
// uint8 reproduces OpenCV's bit-exact fixed-point path: taps of gaussian_kernel_fixed, the
// horizontal pass exact in 8.8 fixed point, the vertical in 16.16, rounded half up once.
// float32 uses gaussian_kernel rounded to float and float accumulation (OpenCV's order differs:
// results agree to float rounding, not bitwise). Rows run in parallel bands; dst != src.
// Throws: std::invalid_argument for an empty image, channels < 1, a negative or non-finite
// sigma, an even ksize, or padded buffers whose size does not fit in 64 bits.
void gaussian_blur_u8(const std::uint8_t* src, index_t height, index_t width, index_t channels,
                      index_t ksize_y, index_t ksize_x, double sigma_y, double sigma_x,
                      std::uint8_t* dst, int num_threads);
void gaussian_blur_f32(const float* src, index_t height, index_t width, index_t channels,
                       index_t ksize_y, index_t ksize_x, double sigma_y, double sigma_x, float* dst,
                       int num_threads);

// cv2.equalizeHist: dst = lut[src] with
//   lut[v] = round_half_even(float(cdf(v) - cdf(vmin)) * (255.f / float(n - count(vmin))))
// (float arithmetic, as OpenCV), vmin the smallest value present; a constant image maps to
// itself. n_pixels >= 1. Histogram and LUT pass run in parallel.
// Throws: std::invalid_argument for n_pixels <= 0.
void equalize_hist(const std::uint8_t* src, index_t n_pixels, std::uint8_t* dst, int num_threads);

// 256-bin histogram of n bytes (one contiguous chunk per thread, partial counts summed).
// Throws: nothing.
void histogram_u8(const std::uint8_t* src, index_t n, index_t* hist, int num_threads);

}  // namespace maskprep::imgproc
