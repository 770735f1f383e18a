// Bindings for the image kernels: colour (color.hpp), blur and equalisation (filter.hpp), Otsu
// (threshold.hpp) and flood fill (flood.hpp). maskprep.imgproc turns tensors and lists into
// arrays; this file checks dtypes and shapes, the kernels check the values.
#include <string>
#include <utility>

#include "bind_util.hpp"
#include "maskprep/color.hpp"
#include "maskprep/filter.hpp"
#include "maskprep/flood.hpp"
#include "maskprep/threshold.hpp"

namespace py = pybind11;
using namespace maskprep;
using namespace maskprep::imgproc;

namespace {

using bind::carray;

carray<std::uint8_t> checked_rgb(const py::array& image) {
  bind::check_array(image, bind::has_dtype<std::uint8_t>(image),
                    bind::non_empty(image, 3) && (image.shape(2) == 3 || image.shape(2) == 4),
                    "image", "a non-empty (H, W, 3) or (H, W, 4) uint8 array");
  return carray<std::uint8_t>::ensure(image);
}

carray<std::uint8_t> checked_gray(const py::array& image) {
  bind::check_array(image, bind::has_dtype<std::uint8_t>(image), bind::non_empty(image, 2), "image",
                    "a non-empty (H, W) uint8 array");
  return carray<std::uint8_t>::ensure(image);
}

template <typename T>
py::array blur(const py::array& image, std::pair<index_t, index_t> ksize,
               std::pair<double, double> sigma, int threads) {
  const auto a = carray<T>::ensure(image);
  const index_t h = a.shape(0), w = a.shape(1), c = a.ndim() == 3 ? a.shape(2) : 1;
  carray<T> out(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()));
  const T* src = a.data();
  T* dst = out.mutable_data();
  {
    // Safe without the GIL: the kernel touches only these buffers, which we keep alive.
    py::gil_scoped_release release;
    if constexpr (std::is_same_v<T, float>)
      gaussian_blur_f32(src, h, w, c, ksize.first, ksize.second, sigma.first, sigma.second, dst,
                        threads);
    else
      gaussian_blur_u8(src, h, w, c, ksize.first, ksize.second, sigma.first, sigma.second, dst,
                       threads);
  }
  return std::move(out);
}

// A per-pixel colour conversion into (H, W) (out_channels 0) or (H, W, out_channels) bytes.
template <typename Kernel>
carray<std::uint8_t> colour(const py::array& image, const py::object& num_threads,
                            py::ssize_t out_channels, Kernel kernel) {
  const auto a = checked_rgb(image);
  const int threads = bind::resolve_threads(num_threads);
  std::vector<py::ssize_t> shape{a.shape(0), a.shape(1)};
  if (out_channels) shape.push_back(out_channels);
  carray<std::uint8_t> out(shape);
  const std::uint8_t* src = a.data();
  std::uint8_t* dst = out.mutable_data();
  const index_t n = a.shape(0) * a.shape(1), c = a.shape(2);
  {
    // Safe without the GIL: the kernel touches only these buffers, which we keep alive.
    py::gil_scoped_release release;
    kernel(src, n, c, dst, threads);
  }
  return out;
}

OtsuConvention parse_convention(const std::string& s) {
  return bind::parse_enum<OtsuConvention>(
      s, "convention",
      {{"skimage", OtsuConvention::kSkimage}, {"opencv", OtsuConvention::kOpencv}});
}

}  // namespace

void bind_imgproc(py::module_& m) {
  m.def(
      "rgb_to_gray",
      [](const py::array& image, const py::object& num_threads) {
        return colour(image, num_threads, 0, rgb_to_gray);
      },
      py::arg("image"), py::kw_only(), py::arg("num_threads") = py::none(),
      "cv2.COLOR_RGB2GRAY of a (H, W, 3|4) uint8 image.");
  m.def(
      "rgb_to_hsv",
      [](const py::array& image, const py::object& num_threads) {
        return colour(image, num_threads, 3, rgb_to_hsv);
      },
      py::arg("image"), py::kw_only(), py::arg("num_threads") = py::none(),
      "cv2.COLOR_RGB2HSV of a (H, W, 3|4) uint8 image.");
  m.def(
      "gaussian_blur",
      [](const py::array& image, std::pair<index_t, index_t> ksize, std::pair<double, double> sigma,
         const py::object& num_threads) -> py::array {
        const bool f32 = bind::has_dtype<float>(image);
        bind::check_array(image, f32 || bind::has_dtype<std::uint8_t>(image),
                          (image.ndim() == 2 || image.ndim() == 3) && bind::non_empty(image),
                          "image", "a non-empty (H, W) or (H, W, C) uint8 or float32 array");
        const int threads = bind::resolve_threads(num_threads);
        return f32 ? blur<float>(image, ksize, sigma, threads)
                   : blur<std::uint8_t>(image, ksize, sigma, threads);
      },
      py::arg("image"), py::arg("ksize"), py::arg("sigma"), py::kw_only(),
      py::arg("num_threads") = py::none(),
      "cv2.GaussianBlur (BORDER_REFLECT_101); ksize (kh, kw) <= 0 derives from sigma (sy, sx).");
  m.def(
      "equalize_hist",
      [](const py::array& image, const py::object& num_threads) {
        const auto a = checked_gray(image);
        const int threads = bind::resolve_threads(num_threads);
        carray<std::uint8_t> out({a.shape(0), a.shape(1)});
        const std::uint8_t* src = a.data();
        std::uint8_t* dst = out.mutable_data();
        const index_t n = a.shape(0) * a.shape(1);
        {
          // Safe without the GIL: the kernel touches only these buffers, which we keep alive.
          py::gil_scoped_release release;
          equalize_hist(src, n, dst, threads);
        }
        return out;
      },
      py::arg("image"), py::kw_only(), py::arg("num_threads") = py::none(),
      "cv2.equalizeHist of a (H, W) uint8 image.");
  m.def(
      "otsu_threshold",
      [](const py::array& image, const std::string& convention, const py::object& num_threads) {
        const OtsuConvention conv = parse_convention(convention);
        const auto a = checked_gray(image);
        const int threads = bind::resolve_threads(num_threads);
        py::array_t<bool> mask({a.shape(0), a.shape(1)});
        const std::uint8_t* src = a.data();
        auto* dst = reinterpret_cast<std::uint8_t*>(mask.mutable_data());
        const index_t n = a.shape(0) * a.shape(1);
        int t = 0;
        {
          // Safe without the GIL: the kernel touches only these buffers, which we keep alive.
          py::gil_scoped_release release;
          t = otsu_threshold(src, n, conv, dst, threads);
        }
        return py::make_tuple(t, mask);
      },
      py::arg("image"), py::arg("convention"), py::kw_only(), py::arg("num_threads") = py::none(),
      "Otsu threshold t of a (H, W) uint8 image and the mask image > t.");
  m.def(
      "flood",
      [](const py::array& image, const py::array& seed_points, double tolerance, int connectivity) {
        const auto a = checked_gray(image);
        bind::check_array(seed_points, bind::is_integer(seed_points),
                          seed_points.ndim() == 2 && seed_points.shape(1) == 2, "seed_points",
                          "an (N, 2) integer array of (row, col) points");
        const auto seeds = carray<index_t>::ensure(seed_points);
        py::array_t<bool> mask({a.shape(0), a.shape(1)});
        const std::uint8_t* src = a.data();
        const index_t* s = seeds.data();
        auto* dst = reinterpret_cast<std::uint8_t*>(mask.mutable_data());
        const index_t h = a.shape(0), w = a.shape(1), n = seeds.shape(0);
        {
          // Safe without the GIL: the kernel touches only these buffers, which we keep alive.
          py::gil_scoped_release release;
          flood_fill(src, h, w, s, n, tolerance, connectivity, dst);
        }
        return mask;
      },
      py::arg("image"), py::arg("seed_points"), py::arg("tolerance"), py::arg("connectivity"),
      "skimage.segmentation.flood of a (H, W) uint8 image from (N, 2) (row, col) seeds.");
}
