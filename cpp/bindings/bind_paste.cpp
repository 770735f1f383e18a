// Bindings for mask pasting (paste.hpp): checks dtypes and shapes (the kernel checks values),
// allocates the dense output or builds the COCO RLE dicts, and runs the kernel without the GIL.
// maskprep.paste coerces tensors and sequences before calling here.
#include <string>
#include <vector>

#include "bind_util.hpp"
#include "maskprep/paste.hpp"
#include "maskprep/rle.hpp"
#include "rle_objects.hpp"

namespace py = pybind11;
using namespace maskprep;
using namespace maskprep::paste;

namespace {

using bind::carray;

bool is_float(const py::array& a) {
  return bind::has_dtype<float>(a) || bind::has_dtype<double>(a);
}

template <typename T, typename B>
py::object run(const py::array& masks_in, const py::array& boxes_in, const PasteSpec& spec,
               bool rle_out, bool compressed, int threads) {
  const auto masks = carray<T>::ensure(masks_in);
  const auto boxes = carray<B>::ensure(boxes_in);
  const T* m = masks.data();
  const B* b = boxes.data();
  check_paste_spec(spec, !rle_out);  // before allocating the output
  if (!rle_out) {
    py::array_t<bool> out({spec.n, spec.height, spec.width});
    auto* o = reinterpret_cast<byte_t*>(out.mutable_data());
    {
      // Safe without the GIL: the kernel touches only these buffers, which we keep alive.
      py::gil_scoped_release release;
      paste_masks_dense(m, b, spec, o, threads);
    }
    return std::move(out);
  }
  std::vector<rle::Counts> counts;
  std::vector<std::string> strings;
  {
    // Safe without the GIL: inputs are pinned by this frame; outputs are C++-owned.
    py::gil_scoped_release release;
    paste_masks_rle(m, b, spec, counts, threads);
    if (compressed) {
      strings.resize(counts.size());
      rle::to_strings(counts.data(), static_cast<index_t>(counts.size()), strings.data(), threads);
    }
  }
  return bind::make_rles(counts, compressed ? &strings : nullptr, spec.height, spec.width,
                         compressed);
}

}  // namespace

void bind_paste(py::module_& m) {
  m.def(
      "paste_masks",
      [](const py::array& masks, const py::array& boxes, index_t height, index_t width,
         double threshold, bool fma, const std::string& output, bool compressed,
         const py::object& num_threads) {
        bind::check_array(
            masks, is_float(masks),
            masks.ndim() == 3 && masks.shape(1) == masks.shape(2) && masks.shape(1) >= 1, "masks",
            "an (N, M, M) float32 or float64 array of square masks, M >= 1");
        const std::string boxes_expected =
            "an (N, 4) float32 or float64 array with N = " + std::to_string(masks.shape(0)) +
            " (one box per mask)";
        bind::check_array(
            boxes, is_float(boxes),
            boxes.ndim() == 2 && boxes.shape(1) == 4 && boxes.shape(0) == masks.shape(0), "boxes",
            boxes_expected.c_str());
        MASKPREP_CHECK(output == "dense" || output == "rle",
                       "output must be 'dense' or 'rle', got '", output, "'");
        PasteSpec spec;
        spec.n = masks.shape(0);
        spec.mask_size = masks.shape(1);
        spec.height = height;
        spec.width = width;
        spec.threshold = threshold;
        spec.fma = fma;
        const bool md = bind::has_dtype<double>(masks);
        const bool bd = bind::has_dtype<double>(boxes);
        const int threads = bind::resolve_threads(num_threads);
        const bool r = output == "rle";
        if (md) {
          return bd ? run<double, double>(masks, boxes, spec, r, compressed, threads)
                    : run<double, float>(masks, boxes, spec, r, compressed, threads);
        }
        return bd ? run<float, double>(masks, boxes, spec, r, compressed, threads)
                  : run<float, float>(masks, boxes, spec, r, compressed, threads);
      },
      py::arg("masks"), py::arg("boxes"), py::arg("height"), py::arg("width"), py::arg("threshold"),
      py::arg("fma"), py::arg("output"), py::arg("compressed"), py::kw_only(),
      py::arg("num_threads") = py::none(),
      "Paste (N, M, M) mask probabilities into (height, width) at (N, 4) boxes, torchvision's "
      "rule, thresholded (fma: ATen's AVX2/AVX-512 arithmetic): a bool (N, H, W) array or a "
      "list of COCO RLE dicts.");
}
