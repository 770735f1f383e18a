// Bindings for mask pasting (paste.hpp): checks shapes and dtypes, allocates the dense output or
// builds the COCO RLE dicts, and runs the kernel without the GIL. maskprep.paste coerces tensors
// and sequences before calling here.
#include <string>
#include <vector>

#include "bind_util.hpp"
#include "maskprep/paste.hpp"

namespace py = pybind11;
using namespace maskprep;

namespace {

template <typename T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// true for float64, false for float32, else ValueError naming the argument.
bool is_double(const py::array& a, const char* name) {
  if (py::isinstance<py::array_t<float>>(a)) return false;
  if (py::isinstance<py::array_t<double>>(a)) return true;
  throw std::invalid_argument(std::string(name) + " must be float32 or float64, got " +
                              bind::dtype_str(a));
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
    if (compressed) strings = bind::to_strings(counts, threads);
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
        MASKPREP_CHECK(masks.ndim() == 3, "masks must have shape (N, M, M), got ",
                       bind::shape_str(masks));
        MASKPREP_CHECK(masks.shape(1) == masks.shape(2) && masks.shape(1) >= 1,
                       "masks must be square, (N, M, M) with M >= 1, got ",
                       bind::shape_str(masks));
        MASKPREP_CHECK(boxes.ndim() == 2 && boxes.shape(1) == 4 &&
                           boxes.shape(0) == masks.shape(0),
                       "boxes must have shape (N, 4) with N = ", masks.shape(0),
                       " (one per mask), got ", bind::shape_str(boxes));
        MASKPREP_CHECK(output == "dense" || output == "rle",
                       "output must be 'dense' or 'rle', got '", output, "'");
        PasteSpec spec;
        spec.n = masks.shape(0);
        spec.mask_size = masks.shape(1);
        spec.height = height;
        spec.width = width;
        spec.threshold = threshold;
        spec.fma = fma;
        const bool md = is_double(masks, "masks");
        const bool bd = is_double(boxes, "boxes");
        const int threads = bind::resolve_threads(num_threads);
        const bool r = output == "rle";
        if (md) {
          return bd ? run<double, double>(masks, boxes, spec, r, compressed, threads)
                    : run<double, float>(masks, boxes, spec, r, compressed, threads);
        }
        return bd ? run<float, double>(masks, boxes, spec, r, compressed, threads)
                  : run<float, float>(masks, boxes, spec, r, compressed, threads);
      },
      py::arg("masks"), py::arg("boxes"), py::arg("height"), py::arg("width"),
      py::arg("threshold"), py::arg("fma"), py::arg("output"), py::arg("compressed"), py::arg("num_threads"),
      "Paste (N, M, M) mask probabilities into (height, width) at (N, 4) boxes, torchvision's "
      "rule, thresholded (fma: ATen's AVX2/AVX-512 arithmetic): a bool (N, H, W) array or a "
      "list of COCO RLE dicts.");
}
