// Bindings for RoI Align forward and backward (roi_align.hpp). The Python layer (maskprep.ops)
// turns per-image box lists into (K, 5) rows and torch tensors into zero-copy arrays; this file
// checks shapes and dtypes, allocates the output and runs the kernel without the GIL.
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bind_util.hpp"
#include "maskprep/roi_align.hpp"

namespace py = pybind11;
using namespace maskprep;
using namespace maskprep::roi_align;

namespace {

using bind::carray;

RoiPoolMode parse_mode(const std::string& mode) {
  return bind::parse_enum<RoiPoolMode>(mode, "mode",
                                       {{"avg", RoiPoolMode::kAvg}, {"max", RoiPoolMode::kMax}});
}

FeatureLayout parse_layout(const std::string& layout) {
  return bind::parse_enum<FeatureLayout>(
      layout, "layout", {{"NCHW", FeatureLayout::kNchw}, {"NHWC", FeatureLayout::kNhwc}});
}

// true for float64, false for float32, else TypeError naming the argument.
bool is_float64(const py::array& a, const char* name, const std::string& layout) {
  if (bind::has_dtype<float>(a)) return false;
  if (bind::has_dtype<double>(a)) return true;
  bind::bad_dtype(a, name,
                  layout == "NHWC" ? "an (N, H, W, C) float32 or float64 array"
                                   : "an (N, C, H, W) float32 or float64 array");
}

std::vector<py::ssize_t> dims_of(const py::array& a) {
  return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim());
}

std::string dims_str(const std::vector<py::ssize_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

// Fills the feature dimensions of `spec` from a 4-d shape read in `spec.layout` order.
void set_feature_shape(RoiAlignSpec& spec, const std::vector<py::ssize_t>& dims, const char* name) {
  const bool nhwc = spec.layout == FeatureLayout::kNhwc;
  bool ok = dims.size() == 4;
  for (py::ssize_t d : dims) ok = ok && d >= 0;
  MASKPREP_CHECK(ok, name, " must have shape ", nhwc ? "(N, H, W, C)" : "(N, C, H, W)", ", got ",
                 dims_str(dims));
  spec.batch = dims[0];
  spec.channels = dims[nhwc ? 3 : 1];
  spec.height = dims[nhwc ? 1 : 2];
  spec.width = dims[nhwc ? 2 : 3];
}

template <typename T>
carray<T> checked_rois(const py::array& rois, const py::array& features) {
  MASKPREP_CHECK(rois.dtype().is(features.dtype()), "boxes must have the features' dtype (",
                 bind::dtype_str(features), "), got ", bind::dtype_str(rois));
  if (rois.ndim() != 2 || rois.shape(1) != 5)
    bind::bad_shape(rois, "boxes", "a (K, 5) array or a list of (L, 4) arrays");
  return carray<T>::ensure(rois);
}

std::vector<py::ssize_t> output_dims(const RoiAlignSpec& s, index_t n_rois) {
  if (s.layout == FeatureLayout::kNhwc)
    return {n_rois, s.pooled_height, s.pooled_width, s.channels};
  return {n_rois, s.channels, s.pooled_height, s.pooled_width};
}

std::vector<py::ssize_t> feature_dims(const RoiAlignSpec& s) {
  if (s.layout == FeatureLayout::kNhwc) return {s.batch, s.height, s.width, s.channels};
  return {s.batch, s.channels, s.height, s.width};
}

// The caller's `out` for the pooled rows `rows` (int64, distinct, in range): checked here so
// that the kernel can write it in place from several threads.
template <typename T>
py::array_t<T> checked_out(const py::object& out_in, const py::object& rows_in,
                           const RoiAlignSpec& spec, index_t n_rois, std::vector<index_t>& rows) {
  MASKPREP_CHECK(!rows_in.is_none(), "rows must be given with out");
  MASKPREP_CHECK(py::isinstance<py::array_t<T>>(out_in), "out must be a ",
                 sizeof(T) == 4 ? "float32" : "float64", " array (the features' dtype)");
  auto out = py::reinterpret_borrow<py::array_t<T>>(out_in);
  std::vector<py::ssize_t> expected = output_dims(spec, out.ndim() > 0 ? out.shape(0) : 0);
  MASKPREP_CHECK(dims_of(out) == expected, "out must have shape ", dims_str(expected), ", got ",
                 bind::shape_str(out));
  MASKPREP_CHECK(out.writeable() && (out.flags() & py::array::c_style),
                 "out must be a writeable C-contiguous array");
  const py::array raw = py::array::ensure(rows_in);
  MASKPREP_CHECK(raw && (raw.dtype().kind() == 'i' || raw.dtype().kind() == 'u'),
                 "rows must be an integer array");
  const auto given = carray<std::int64_t>::ensure(raw);
  MASKPREP_CHECK(given && given.ndim() == 1 && given.shape(0) == n_rois,
                 "rows must be a 1-d integer array with one entry per box (", n_rois, ")");
  std::vector<char> used(static_cast<size_t>(out.shape(0)), 0);
  rows.assign(given.data(), given.data() + n_rois);
  for (index_t i = 0; i < n_rois; ++i) {
    const index_t row = rows[static_cast<size_t>(i)];
    MASKPREP_CHECK(row >= 0 && row < out.shape(0), "rows[", i, "] must be in [0, ", out.shape(0),
                   "), got ", row);
    MASKPREP_CHECK(!used[static_cast<size_t>(row)], "rows must be distinct, got ", row, " twice");
    used[static_cast<size_t>(row)] = 1;
  }
  return out;
}

template <typename T>
py::array forward(const py::array& features_in, const py::array& rois_in, RoiAlignSpec spec,
                  int threads, const py::object& out_in, const py::object& rows_in) {
  const auto features = carray<T>::ensure(features_in);
  const auto rois = checked_rois<T>(rois_in, features_in);
  const index_t n_rois = rois.shape(0);
  std::vector<index_t> rows;
  MASKPREP_CHECK(!out_in.is_none() || rows_in.is_none(), "rows needs out");
  if (spec.pooled_height > 0 && spec.pooled_width > 0) {  // the kernel names other problems
    const index_t bins = detail::checked_size("output_size", spec.pooled_height, spec.pooled_width);
    detail::checked_size("output K x C x output_size", n_rois, spec.channels, bins);  // to allocate
  }
  py::array_t<T> out = out_in.is_none() ? py::array_t<T>(output_dims(spec, n_rois))
                                        : checked_out<T>(out_in, rows_in, spec, n_rois, rows);
  const T* f = features.data();
  const T* r = rois.data();
  T* o = out.mutable_data();
  const index_t* rw = out_in.is_none() ? nullptr : rows.data();
  {
    // Safe without the GIL: the kernel touches only these buffers, which we keep alive.
    py::gil_scoped_release release;
    roi_align_forward(f, r, n_rois, spec, o, threads, rw);
  }
  return std::move(out);
}

template <typename T>
py::array backward(const py::array& grad_in, const py::array& rois_in, RoiAlignSpec spec,
                   const py::object& features_in, int threads) {
  const auto grad = carray<T>::ensure(grad_in);
  const auto rois = checked_rois<T>(rois_in, grad_in);
  const index_t n_rois = rois.shape(0);
  const auto expected = output_dims(spec, n_rois);
  MASKPREP_CHECK(dims_of(grad) == expected, "grad_output must have shape ", dims_str(expected),
                 ", got ", bind::shape_str(grad));
  const auto shape = feature_dims(spec);
  detail::checked_bytes(
      "features_shape",
      detail::checked_size("features_shape", spec.batch, spec.channels, spec.height, spec.width),
      sizeof(T));  // to allocate
  carray<T> features;
  if (spec.mode == RoiPoolMode::kMax) {
    MASKPREP_CHECK(!features_in.is_none(), "features are required for the max-mode backward");
    const py::array given = py::array::ensure(features_in);
    MASKPREP_CHECK(given && given.dtype().is(grad_in.dtype()),
                   "features must have grad_output's dtype (", bind::dtype_str(grad_in), ")");
    MASKPREP_CHECK(dims_of(given) == shape, "features must have shape ", dims_str(shape),
                   " (features_shape), got ", bind::shape_str(given));
    features = carray<T>::ensure(given);
  }
  carray<T> grad_features(shape);
  const T* g = grad.data();
  const T* r = rois.data();
  const T* f = spec.mode == RoiPoolMode::kMax ? features.data() : nullptr;
  T* gf = grad_features.mutable_data();
  {
    // Safe without the GIL: the kernel touches only these buffers, which we keep alive.
    py::gil_scoped_release release;
    roi_align_backward(g, r, n_rois, spec, f, gf, threads);
  }
  return std::move(grad_features);
}

RoiAlignSpec make_spec(const py::tuple& output_size, double spatial_scale, index_t sampling_ratio,
                       bool aligned, const std::string& mode, const std::string& layout) {
  MASKPREP_CHECK(output_size.size() == 2, "output_size must be (height, width), got ",
                 std::string(py::str(output_size)));
  RoiAlignSpec spec;
  spec.pooled_height = output_size[0].cast<index_t>();
  spec.pooled_width = output_size[1].cast<index_t>();
  spec.spatial_scale = spatial_scale;
  spec.sampling_ratio = sampling_ratio;
  spec.aligned = aligned;
  spec.mode = parse_mode(mode);
  spec.layout = parse_layout(layout);
  return spec;
}

}  // namespace

void bind_roi_align(py::module_& m) {
  m.def(
      "roi_align_forward",
      [](const py::array& features, const py::array& rois, const py::tuple& output_size,
         double spatial_scale, index_t sampling_ratio, bool aligned, const std::string& mode,
         const std::string& layout, const py::object& num_threads, const py::object& out,
         const py::object& rows) {
        const bool f64 = is_float64(features, "features", layout);
        RoiAlignSpec spec =
            make_spec(output_size, spatial_scale, sampling_ratio, aligned, mode, layout);
        set_feature_shape(spec, dims_of(features), "features");
        const int threads = bind::resolve_threads(num_threads);
        return f64 ? forward<double>(features, rois, spec, threads, out, rows)
                   : forward<float>(features, rois, spec, threads, out, rows);
      },
      py::arg("features"), py::arg("rois"), py::arg("output_size"), py::arg("spatial_scale"),
      py::arg("sampling_ratio"), py::arg("aligned"), py::arg("mode"), py::arg("layout"),
      py::kw_only(), py::arg("num_threads") = py::none(), py::arg("out") = py::none(),
      py::arg("rows") = py::none(),
      "RoI Align of (K, 5) rois over 4-d features (layout 'NCHW' or 'NHWC'), float32/float64; "
      "with out and rows, box k fills out[rows[k]] in place and out is returned.");
  m.def(
      "roi_align_backward",
      [](const py::array& grad_output, const py::array& rois, const py::tuple& features_shape,
         const py::tuple& output_size, double spatial_scale, index_t sampling_ratio, bool aligned,
         const std::string& mode, const std::string& layout, const py::object& features,
         const py::object& num_threads) {
        RoiAlignSpec spec =
            make_spec(output_size, spatial_scale, sampling_ratio, aligned, mode, layout);
        set_feature_shape(spec, features_shape.cast<std::vector<py::ssize_t>>(), "features_shape");
        const int threads = bind::resolve_threads(num_threads);
        return is_float64(grad_output, "grad_output", layout)
                   ? backward<double>(grad_output, rois, spec, features, threads)
                   : backward<float>(grad_output, rois, spec, features, threads);
      },
      py::arg("grad_output"), py::arg("rois"), py::arg("features_shape"), py::arg("output_size"),
      py::arg("spatial_scale"), py::arg("sampling_ratio"), py::arg("aligned"), py::arg("mode"),
      py::arg("layout"), py::arg("features"), py::kw_only(), py::arg("num_threads") = py::none(),
      "Gradient of roi_align_forward with respect to the features (max mode needs features).");
}
