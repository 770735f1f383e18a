// Bindings for binary morphology (morphology.hpp). maskprep.morphology builds the kernel and
// normalises integer kernels to 0/1; this file checks dtypes and shapes, the kernel the values.
#include <string>

#include "bind_util.hpp"
#include "maskprep/morphology.hpp"

namespace py = pybind11;
using namespace maskprep;
using namespace maskprep::morphology;

namespace {

using bytes = bind::byte_array;

MorphOp parse_op(const std::string& s) {
  return bind::parse_enum<MorphOp>(s, "op",
                                   {{"erode", MorphOp::kErode},
                                    {"dilate", MorphOp::kDilate},
                                    {"open", MorphOp::kOpen},
                                    {"close", MorphOp::kClose}});
}

MorphShape parse_shape(const std::string& s) {
  return bind::parse_enum<MorphShape>(s, "shape",
                                      {{"rect", MorphShape::kRect},
                                       {"ellipse", MorphShape::kEllipse},
                                       {"cross", MorphShape::kCross}});
}

}  // namespace

void bind_morphology(py::module_& m) {
  m.def(
      "structuring_element",
      [](const std::string& shape, index_t kh, index_t kw) {
        const auto k = structuring_element(parse_shape(shape), kh, kw);
        bytes out({kh, kw});
        std::copy(k.begin(), k.end(), out.mutable_data());
        return out;
      },
      py::arg("shape"), py::arg("kh"), py::arg("kw"),
      "cv2.getStructuringElement(shape, (kw, kh)) as a (kh, kw) uint8 array.");
  m.def(
      "morphology",
      [](const py::array& mask, const py::array& kernel, const std::string& op, index_t iterations,
         const py::object& num_threads) {
        const MorphOp o = parse_op(op);
        const auto src = bind::mask_bytes(mask, bind::non_empty(mask, 2), "mask",
                                          "a non-empty (H, W) bool or uint8 array");
        const auto k = bind::mask_bytes(kernel, bind::non_empty(kernel, 2), "kernel",
                                        "a non-empty (kh, kw) bool or uint8 array");
        const int threads = bind::resolve_threads(num_threads);
        py::array_t<bool> out({src.shape(0), src.shape(1)});
        const std::uint8_t* s = src.data();
        const std::uint8_t* kp = k.data();
        auto* d = reinterpret_cast<std::uint8_t*>(out.mutable_data());
        const index_t h = src.shape(0), w = src.shape(1), kh = k.shape(0), kw = k.shape(1);
        {
          // Safe without the GIL: the kernel touches only these buffers, which we keep alive.
          py::gil_scoped_release release;
          morphology::morphology(s, h, w, kp, kh, kw, o, iterations, d, threads);
        }
        return out;
      },
      py::arg("mask"), py::arg("kernel"), py::arg("op"), py::arg("iterations"), py::kw_only(),
      py::arg("num_threads") = py::none(),
      "Binary erode/dilate/open/close of a (H, W) bool/uint8 mask by a (kh, kw) kernel.");
}
