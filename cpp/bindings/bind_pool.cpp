// Bindings for max pooling (pool.hpp): checks the array's dtype and shape, allocates the
// output and runs the kernel without the GIL. maskprep.ops.max_pool2d normalises sizes and
// hands tensors over.
#include <pybind11/stl.h>

#include <string>
#include <utility>
#include <vector>

#include "bind_util.hpp"
#include "maskprep/pool.hpp"

namespace py = pybind11;
using namespace maskprep;
using namespace maskprep::pool;

namespace {

template <typename T>
py::array run(const py::array& input_in, MaxPoolSpec spec, int threads) {
  const auto input = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(input_in);
  check_max_pool(spec);
  std::vector<py::ssize_t> dims(input.shape(), input.shape() + input.ndim());
  dims[dims.size() - 2] = max_pool_out_size(spec.height, spec.kernel_h, spec.stride_h, spec.pad_h);
  dims[dims.size() - 1] = max_pool_out_size(spec.width, spec.kernel_w, spec.stride_w, spec.pad_w);
  py::array_t<T> out(dims);
  const T* in = input.data();
  T* o = out.mutable_data();
  {
    // Safe without the GIL: the kernel touches only these two buffers, kept alive here.
    py::gil_scoped_release release;
    max_pool2d(in, spec, o, threads);
  }
  return std::move(out);
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def(
      "max_pool2d",
      [](const py::array& input, std::pair<index_t, index_t> kernel,
         std::pair<index_t, index_t> stride, std::pair<index_t, index_t> padding,
         const py::object& num_threads) -> py::array {
        const bool f32 = bind::has_dtype<float>(input);
        bind::check_array(input, f32 || bind::has_dtype<double>(input),
                          input.ndim() == 3 || input.ndim() == 4, "input",
                          "a (C, H, W) or (N, C, H, W) float32 or float64 array");
        MaxPoolSpec spec;
        const py::ssize_t nd = input.ndim();
        spec.height = input.shape(nd - 2);
        spec.width = input.shape(nd - 1);
        spec.planes = input.shape(nd - 3) * (nd == 4 ? input.shape(0) : 1);
        spec.kernel_h = kernel.first;
        spec.kernel_w = kernel.second;
        spec.stride_h = stride.first;
        spec.stride_w = stride.second;
        spec.pad_h = padding.first;
        spec.pad_w = padding.second;
        const int threads = bind::resolve_threads(num_threads);
        return f32 ? run<float>(input, spec, threads) : run<double>(input, spec, threads);
      },
      py::arg("input"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
      py::kw_only(), py::arg("num_threads") = py::none(),
      "torch's max_pool2d (dilation 1, floor mode) on a (C, H, W) or (N, C, H, W) float array");
}
