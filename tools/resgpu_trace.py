"""The forward graph of a PyTorch model, read with torch.fx, as graph manifest v2 nodes.

build_manifest(model, input_shape) traces model.forward() symbolically (torch.nn modules are
leaves; the model's own modules and nn.Sequential are traced through) and maps each node the
output depends on to a manifest node, with shapes checked as it goes: what the TypeScript loader
will check again, refused here first with the module path and type. The tables below are the
whole mapping: to support a module or function, add a row (and the op to resgpu_manifest.py).
"""
import math
import operator

import torch
import torch.nn.functional as F
from torch import fx, nn

FIX = ("export the model with torch.onnx.export and load the .onnx, or use a supported equivalent: Linear, "
       "BatchNorm1d, LayerNorm over the last dimension, ReLU, LeakyReLU, GELU, SiLU, Sigmoid, Tanh, the add of "
       "two tensors, Dropout, Identity, Flatten")


class ExportError(ValueError):
    pass


def _relu(_):
    return {"fn": "relu"}


def _gelu(approximate):
    if approximate not in ("none", "tanh"):
        raise ExportError(f"GELU approximate={approximate!r}; resgpu runs 'none' (erf) and 'tanh'")
    return {"fn": "gelu", "approximate": approximate}


def _arg(node, index, name, default=None):
    """An fx node's argument, given positionally or by keyword."""
    return node.args[index] if len(node.args) > index else node.kwargs.get(name, default)


def _input(node):
    """What a module, function or method is applied to: its first argument, positional or not."""
    return node.args[0] if node.args else next(iter(node.kwargs.values()), None)


# Each table maps what the traced graph holds to the attrs of an `activation` node.
ACTIVATION_MODULES = {
    nn.ReLU: _relu,
    nn.LeakyReLU: lambda m: {"fn": "leaky_relu", "negative_slope": float(m.negative_slope)},
    nn.GELU: lambda m: _gelu(m.approximate),
    nn.SiLU: lambda m: {"fn": "silu"}, nn.Sigmoid: lambda m: {"fn": "sigmoid"}, nn.Tanh: lambda m: {"fn": "tanh"},
}
ACTIVATION_FUNCTIONS = {
    F.relu: _relu, torch.relu: _relu,
    F.leaky_relu: lambda n: {"fn": "leaky_relu", "negative_slope": float(_arg(n, 1, "negative_slope", 0.01))},
    F.gelu: lambda n: _gelu(_arg(n, 1, "approximate", "none")),
    F.silu: lambda n: {"fn": "silu"},
    torch.sigmoid: lambda n: {"fn": "sigmoid"}, F.sigmoid: lambda n: {"fn": "sigmoid"},
    torch.tanh: lambda n: {"fn": "tanh"}, F.tanh: lambda n: {"fn": "tanh"},
}
ACTIVATION_METHODS = {"relu": _relu, "sigmoid": lambda n: {"fn": "sigmoid"}, "tanh": lambda n: {"fn": "tanh"}}
ADDS = (operator.add, operator.iadd, torch.add)


class _ScopedTracer(fx.Tracer):
    """fx's default tracer (torch.nn modules are leaves, the model's own modules are traced
    through) that also notes on each node the module whose forward made it: fx 1.13 keeps no
    module stack, and a refused `torch.mul` should say which block it sits in."""

    def __init__(self):
        super().__init__()
        self.scope = [""]

    def call_module(self, m, forward, args, kwargs):
        self.scope.append(self.path_of_module(m))
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self.scope.pop()

    def create_node(self, *args, **kwargs):
        node = super().create_node(*args, **kwargs)
        node.meta["resgpu_scope"] = self.scope[-1]
        return node


def _trace(model):
    try:
        return _ScopedTracer().trace(model)
    except Exception as e:  # fx raises TraceError, TypeError, RuntimeError... for code it cannot follow
        raise ExportError(f"torch.fx cannot trace {type(model).__name__}.forward ({type(e).__name__}: {e}); resgpu "
                          f"reads the graph by symbolic tracing, which needs a forward() without control flow on tensor "
                          f"values. Make it so, or {FIX}") from None


def _function_name(f):
    module = getattr(f, "__module__", None)
    module = {"_operator": "operator", "torch._C._nn": "torch.nn.functional"}.get(module, module)
    return f"{module}.{getattr(f, '__name__', f)}" if module else str(f)


def _describe(node, modules):
    if node.op == "call_module":
        return f"{node.target} ({type(modules[node.target]).__name__})"
    what = _function_name(node.target) if node.op == "call_function" else f"Tensor.{node.target}"
    scope = node.meta.get("resgpu_scope")
    return f"{node.name} ({what}{f' in {scope}' if scope else ''})"


class _GraphBuilder:
    """Turns the traced fx graph into manifest-v2 nodes, checking shapes as it goes."""

    def __init__(self, model, graph):
        self.modules = dict(model.named_modules())
        self.state = model.state_dict()
        self.graph = graph
        self.shapes, self.nodes, self.tensor_users = {}, [], {}

    def value(self, node, arg):
        """The name of a value `node` reads, refusing anything that is not one."""
        if isinstance(arg, fx.Node) and arg.name in self.shapes:
            return arg.name
        if isinstance(arg, fx.Node) and arg.op == "get_attr":
            raise ExportError(f"{_describe(node, self.modules)} reads the tensor {arg.target} directly; resgpu runs "
                              f"layers on values, so {FIX}")
        raise ExportError(f"{_describe(node, self.modules)} takes {arg!r} where resgpu needs a tensor value; {FIX}")

    def tensor(self, node, key):
        if key not in self.state:
            raise ExportError(f"{_describe(node, self.modules)} needs {key!r}, which its state_dict does not hold "
                              "(weight_norm or a parametrization? remove them before exporting)")
        if key in self.tensor_users:
            raise ExportError(f"{_describe(node, self.modules)} uses {key}, already used by {self.tensor_users[key]}; "
                              "a manifest uses each tensor once: give each use its own module")
        self.tensor_users[key] = _describe(node, self.modules)
        return key

    def emit(self, node, op, inputs, shape, params=None, attrs=None, name=None):
        entry = {"op": op}
        if name is not None:
            entry["name"] = name
        entry.update(inputs=inputs, output=node.name)
        if params:
            entry["params"] = {role: self.tensor(node, key) for role, key in params.items()}
        if attrs:
            entry["attrs"] = attrs
        self.nodes.append(entry)
        self.shapes[node.name] = tuple(shape)

    def build(self, input_shape):
        placeholders = [n for n in self.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise ExportError(f"forward() takes {len(placeholders)} inputs ({', '.join(n.name for n in placeholders)}); "
                              "a resgpu model takes one")
        out = next(n for n in self.graph.nodes if n.op == "output").args[0]
        if not isinstance(out, fx.Node):
            raise ExportError(f"forward() returns a {type(out).__name__}; a resgpu model returns one tensor")
        live = _ancestors(out)
        x = placeholders[0]
        if input_shape is None:
            input_shape = [self.first_linear_in_features()]
        self.shapes[x.name] = tuple(input_shape)
        for node in self.graph.nodes:
            if node in live and node.op in ("call_module", "call_function", "call_method"):
                self.map(node)
        if out.name not in self.shapes or out is x:
            raise ExportError(f"forward() returns {'its input unchanged' if out is x else out.target}, not a value "
                              "computed from its input: there is nothing to run")
        return {"format": "resgpu-graph", "version": 2, "inputs": [{"name": x.name, "shape": list(input_shape)}],
                "outputs": [out.name], "nodes": self.nodes}, self.shapes[out.name]

    def first_linear_in_features(self):
        for node in self.graph.nodes:
            if node.op == "call_module" and isinstance(self.modules[node.target], nn.Linear):
                return self.modules[node.target].in_features
            weight = _arg(node, 1, "weight") if node.op == "call_function" and node.target is F.linear else None
            if isinstance(weight, fx.Node) and weight.target in self.state:  # a bare nn.Linear: F.linear(x, self.weight)
                return self.state[weight.target].shape[1]
        raise ExportError("the model has no Linear layer to take the input width from; pass input_shape "
                          "(--input-shape)")

    def map(self, node):
        if node.op == "call_module":
            return self.map_module(node, self.modules[node.target])
        if node.op == "call_method" and node.target in ACTIVATION_METHODS:
            return self.same_shape(node, "activation", ACTIVATION_METHODS[node.target](node))
        if node.op == "call_method" and node.target == "add" or node.op == "call_function" and node.target in ADDS:
            return self.add(node)
        if node.op == "call_method" and node.target == "flatten" or node.op == "call_function" and node.target is torch.flatten:
            return self.flatten(node, _arg(node, 1, "start_dim", 0), _arg(node, 2, "end_dim", -1), None)
        if node.op == "call_function" and node.target in ACTIVATION_FUNCTIONS:
            return self.same_shape(node, "activation", ACTIVATION_FUNCTIONS[node.target](node))
        if node.op == "call_function" and node.target is F.dropout:
            if _arg(node, 2, "training", True):
                raise ExportError(f"{_describe(node, self.modules)} drops values even in eval mode (training=True); "
                                  "pass training=self.training, or use nn.Dropout")
            return self.same_shape(node, "dropout", None)
        if node.op == "call_function" and node.target is F.linear:
            return self.functional_linear(node)
        raise ExportError(f"{_describe(node, self.modules)} has no resgpu equivalent; {FIX}")

    def same_shape(self, node, op, attrs, name=None):
        x = self.value(node, _input(node))
        self.emit(node, op, [x], self.shapes[x], attrs=attrs, name=name)

    def map_module(self, node, m):
        path, kind = node.target, type(m).__name__
        x = self.value(node, _input(node))
        shape = self.shapes[x]
        if type(m) in ACTIVATION_MODULES:
            return self.same_shape(node, "activation", ACTIVATION_MODULES[type(m)](m), path)
        if isinstance(m, (nn.Dropout, nn.Identity)):
            return self.same_shape(node, "dropout" if isinstance(m, nn.Dropout) else "identity", None, path)
        if isinstance(m, nn.Flatten):
            return self.flatten(node, m.start_dim, m.end_dim, path)
        if isinstance(m, nn.Linear):
            if len(shape) != 1 or shape[0] != m.in_features:
                raise ExportError(f"{path} ({kind}) takes [{m.in_features}] rows but receives {list(shape)}")
            params = {"weight": f"{path}.weight", **({"bias": f"{path}.bias"} if m.bias is not None else {})}
            return self.emit(node, "linear", [x], [m.out_features], params, name=path)
        if isinstance(m, nn.BatchNorm1d):
            if not m.track_running_stats or m.running_mean is None:
                raise ExportError(f"{path} ({kind}) has no running statistics (track_running_stats=False); eval-mode "
                                  "inference needs them: train with track_running_stats=True")
            if shape != (m.num_features,):
                raise ExportError(f"{path} ({kind}) normalizes {m.num_features} features but receives {list(shape)} rows")
            params = {"running_mean": f"{path}.running_mean", "running_var": f"{path}.running_var"}
            if m.affine:
                params.update(weight=f"{path}.weight", bias=f"{path}.bias")
            return self.emit(node, "batchnorm", [x], shape, params, {"eps": float(m.eps)}, path)
        if isinstance(m, nn.LayerNorm):
            if len(m.normalized_shape) != 1 or m.normalized_shape[0] != shape[-1]:
                raise ExportError(f"{path} ({kind}) normalizes over {list(m.normalized_shape)} of {list(shape)} rows; "
                                  f"resgpu's layernorm normalizes over the last dimension only; {FIX}")
            params = {"weight": f"{path}.weight", "bias": f"{path}.bias"} if m.elementwise_affine else None
            return self.emit(node, "layernorm", [x], shape, params, {"eps": float(m.eps)}, path)
        raise ExportError(f"{path} ({kind}) has no resgpu equivalent; {FIX}")

    def add(self, node):
        other = _arg(node, 1, "other")
        if other is None or len(node.args) > 2 or set(node.kwargs) - {"other", "alpha"} or node.kwargs.get("alpha", 1) != 1:
            raise ExportError(f"{_describe(node, self.modules)} is not a plain add of two tensors (alpha=1); {FIX}")
        a, b = self.value(node, _input(node)), self.value(node, other)
        if self.shapes[a] != self.shapes[b]:
            raise ExportError(f"{_describe(node, self.modules)} adds {list(self.shapes[a])} and {list(self.shapes[b])} "
                              "rows; resgpu adds values of the same shape, without broadcasting")
        self.emit(node, "add", [a, b], self.shapes[a])

    def flatten(self, node, start, end, name):
        x = self.value(node, _input(node))
        shape = self.shapes[x]
        if start != 1 or end not in (-1, len(shape)):
            raise ExportError(f"{_describe(node, self.modules)} flattens dimensions {start}..{end}; resgpu flattens "
                              "each row (start_dim=1, end_dim=-1) and keeps the batch")
        self.emit(node, "flatten", [x], [math.prod(shape)], name=name)

    def functional_linear(self, node):
        """F.linear on the model's own parameters (a bare nn.Linear as the root, a Linear subclass)."""
        x, w, b = self.value(node, _input(node)), _arg(node, 1, "weight"), _arg(node, 2, "bias")
        if not all(isinstance(t, fx.Node) and t.op == "get_attr" and t.target in self.state for t in (w, b) if t is not None):
            raise ExportError(f"{_describe(node, self.modules)} computes its weights or reads tensors its state_dict "
                              f"does not hold; {FIX}")
        out, inp = self.state[w.target].shape
        if self.shapes[x] != (inp,):
            raise ExportError(f"{_describe(node, self.modules)} takes [{inp}] rows but receives {list(self.shapes[x])}")
        params = {"weight": w.target, **({"bias": b.target} if b is not None else {})}
        self.emit(node, "linear", [x], [out], params, name=node.meta.get("resgpu_scope") or None)


def _ancestors(out):
    """The nodes the output depends on: what else forward() computes is dead and not exported."""
    seen, stack = set(), [out]
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(n.all_input_nodes)
    return seen


def build_manifest(model, input_shape=None):
    """The manifest-v2 op graph of `model`'s forward(), and the output's row shape."""
    return _GraphBuilder(model, _trace(model)).build(input_shape)
