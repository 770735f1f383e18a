// Bindings for label images (label_image.hpp): PNG unfiltering and the RLE of every id, each
// run without the GIL (the PNG importers call them from a pool of threads, one file each).
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bind_util.hpp"
#include "maskprep/label_image.hpp"
#include "maskprep/rle.hpp"

namespace py = pybind11;
using namespace maskprep;

namespace {

// An (h, w) uint8 or uint16 array from the inflated scanlines of a non-interlaced PNG.
py::array unfilter(const py::bytes& data, index_t h, index_t w, int bit_depth) {
  MASKPREP_CHECK(bit_depth == 8 || bit_depth == 16, "bit_depth must be 8 or 16, got ", bit_depth);
  MASKPREP_CHECK(h >= 1 && w >= 1, "h and w must be >= 1, got ", h, " x ", w);
  const int bpp = bit_depth / 8;
  const index_t row_bytes = detail::checked_size("PNG row", w, bpp);
  const index_t need = detail::checked_size("PNG scanlines", h, row_bytes + 1);
  const auto len = static_cast<index_t>(PyBytes_GET_SIZE(data.ptr()));
  MASKPREP_CHECK(len == need, "data must hold ", h, " scanlines of 1 + ", row_bytes, " bytes (",
                 need, "), got ", len);
  const auto* in = reinterpret_cast<const byte_t*>(PyBytes_AS_STRING(data.ptr()));
  py::array out = bit_depth == 8 ? py::array(py::array_t<std::uint8_t>({h, w}))
                                 : py::array(py::array_t<std::uint16_t>({h, w}));
  auto* raw = static_cast<byte_t*>(out.mutable_data());
  {
    py::gil_scoped_release release;  // bytes are immutable; `out` is ours
    label_image::unfilter(in, h, row_bytes, bpp, bit_depth == 16, raw);
  }
  return out;
}

template <typename T>
py::tuple encode_labels(const py::array& label_in, const std::vector<std::int64_t>& ignore) {
  const auto label = bind::carray<T>::ensure(label_in);
  const index_t h = label.shape(0), w = label.shape(1);
  std::vector<T> ids;
  std::vector<rle::Counts> counts;
  std::vector<std::string> strings;
  const T* p = label.data();
  {
    py::gil_scoped_release release;  // the kernel reads `label` (kept alive here) only
    label_image::encode_labels(p, h, w, ignore.data(), static_cast<index_t>(ignore.size()), ids,
                               counts);
    strings.resize(counts.size());
    for (std::size_t k = 0; k < counts.size(); ++k) strings[k] = rle::to_string(counts[k]);
  }
  py::array_t<T> id_array(static_cast<py::ssize_t>(ids.size()));
  std::copy(ids.begin(), ids.end(), id_array.mutable_data());
  py::list out(strings.size());
  for (std::size_t k = 0; k < strings.size(); ++k)
    out[static_cast<py::ssize_t>(k)] = py::str(strings[k]);
  return py::make_tuple(std::move(id_array), std::move(out));
}

py::tuple encode_labels_any(const py::array& label, const std::vector<std::int64_t>& ignore) {
  constexpr const char* expected = "an (H, W) integer array";
  bind::check_array(label, bind::is_integer(label), label.ndim() == 2, "label", expected);
  switch (label.dtype().itemsize() * (label.dtype().kind() == 'u' ? 1 : -1)) {
    case 1:
      return encode_labels<std::uint8_t>(label, ignore);
    case -1:
      return encode_labels<std::int8_t>(label, ignore);
    case 2:
      return encode_labels<std::uint16_t>(label, ignore);
    case -2:
      return encode_labels<std::int16_t>(label, ignore);
    case 4:
      return encode_labels<std::uint32_t>(label, ignore);
    case -4:
      return encode_labels<std::int32_t>(label, ignore);
    case 8:
      return encode_labels<std::uint64_t>(label, ignore);
    default:
      return encode_labels<std::int64_t>(label, ignore);
  }
}

}  // namespace

void bind_label_image(py::module_& m) {
  m.def("png_unfilter", &unfilter, py::arg("data"), py::arg("h"), py::arg("w"),
        py::arg("bit_depth"), "The (h, w) samples of a non-interlaced PNG's inflated scanlines");
  m.def("rle_encode_labels", &encode_labels_any, py::arg("label"), py::arg("ignore"),
        "(ids, compressed counts) of every id of an (H, W) label image but `ignore`");
}
