package function

import (
	"math"
	"strconv"

	"github.com/dop251/goja"
)

// Bounded built-ins: goja's Interrupt cannot stop a built-in half-way, so
// the built-ins that allocate or loop in one native step over a size the
// script chooses are replaced by wrappers that check the size first and
// throw a RangeError above the limit (package doc, "Memory" 2). The wrappers
// are Go functions: wrapping in JavaScript cost four times as much per call.

// arrayWalkers are the Array.prototype methods that walk the whole array.
var arrayWalkers = []string{
	"concat", "copyWithin", "entries", "every", "fill", "filter", "find", "findIndex", "findLast",
	"findLastIndex", "flat", "flatMap", "forEach", "includes", "indexOf", "keys", "lastIndexOf", "map",
	"reduce", "reduceRight", "reverse", "slice", "some", "sort", "splice", "toLocaleString",
	"toReversed", "toSorted", "toSpliced", "toString", "values", "with",
}

// typedConstructors are the buffer constructors with their element sizes.
var typedConstructors = []struct {
	name  string
	bytes float64
}{
	{"ArrayBuffer", 1}, {"SharedArrayBuffer", 1},
	{"Int8Array", 1}, {"Uint8Array", 1}, {"Uint8ClampedArray", 1}, {"Int16Array", 2}, {"Uint16Array", 2},
	{"Int32Array", 4}, {"Uint32Array", 4}, {"Float32Array", 4}, {"Float64Array", 8},
	{"BigInt64Array", 8}, {"BigUint64Array", 8},
}

type guards struct {
	vm                              *goja.Runtime
	rangeError                      goja.Constructor // captured before the script runs
	maxBytes, maxString, maxElement float64
}

func (c *call) installGuards() {
	vm := c.vm
	limit := float64(c.bot.memLimit)
	g := &guards{vm: vm, maxBytes: limit, maxString: limit / 2, maxElement: limit / 16}
	global := vm.GlobalObject()
	object := func(v goja.Value) *goja.Object { return v.ToObject(vm) }
	g.rangeError, _ = goja.AssertConstructor(global.Get("RangeError"))

	sp := object(object(global.Get("String")).Get("prototype"))
	g.wrap(sp, "repeat", func(call goja.FunctionCall) {
		if goja.IsUndefined(call.This) || goja.IsNull(call.This) {
			return
		}
		g.check("string length", float64(len(call.This.String()))*math.Floor(call.Argument(0).ToFloat()), g.maxString)
	})
	for _, name := range []string{"padStart", "padEnd"} {
		g.wrap(sp, name, func(call goja.FunctionCall) {
			g.check("string length", call.Argument(0).ToFloat(), g.maxString)
		})
	}

	array := object(global.Get("Array"))
	ap := object(array.Get("prototype"))
	for _, name := range arrayWalkers {
		g.wrap(ap, name, func(call goja.FunctionCall) {
			g.check("array length", g.length(call.This), g.maxElement)
		})
	}
	g.wrap(ap, "join", func(call goja.FunctionCall) {
		n := g.length(call.This)
		g.check("array length", n, g.maxElement)
		sep := 1.0
		if s := call.Argument(0); !goja.IsUndefined(s) {
			sep = float64(len(s.String()))
		}
		g.check("joined string length", n*sep, g.maxString)
	})
	g.wrap(array, "from", func(call goja.FunctionCall) {
		g.check("source length", g.length(call.Argument(0)), g.maxElement)
	})

	g.wrap(object(object(global.Get("Function")).Get("prototype")), "apply", func(call goja.FunctionCall) {
		g.check("argument list length", g.length(call.Argument(1)), g.maxElement)
	})
	reflect := object(global.Get("Reflect"))
	g.wrap(reflect, "apply", func(call goja.FunctionCall) {
		g.check("argument list length", g.length(call.Argument(2)), g.maxElement)
	})
	g.wrap(reflect, "construct", func(call goja.FunctionCall) {
		g.check("argument list length", g.length(call.Argument(1)), g.maxElement)
	})

	for _, tc := range typedConstructors {
		g.constructor(global, tc.name, tc.bytes)
	}
	// %TypedArray%, the typed arrays' common parent, has the static from.
	if typed := object(global.Get("Int8Array")).Prototype(); typed != nil {
		g.wrap(typed, "from", func(call goja.FunctionCall) {
			g.check("source length", g.length(call.Argument(0)), g.maxElement)
		})
	}
}

// check throws a RangeError when size exceeds max.
func (g *guards) check(what string, size, max float64) {
	if size > max {
		msg := g.vm.ToValue(what + " exceeds the sandbox limit (" + ftoa(size) + " > " + ftoa(max) + ")")
		err, _ := g.rangeError(nil, msg)
		panic(err)
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// length reads v.length as the built-ins do, 0 for non-objects.
func (g *guards) length(v goja.Value) float64 {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return 0
	}
	var l goja.Value
	switch o := v.(type) {
	case *goja.Object:
		l = o.Get("length")
	default:
		if _, isString := v.Export().(string); !isString {
			return 0
		}
		l = v.ToObject(g.vm).Get("length")
	}
	if l == nil {
		return 0
	}
	n := l.ToFloat()
	if n > 0 {
		return n
	}
	return 0
}

// wrap replaces obj[name] by a function that runs check and then the
// original.
func (g *guards) wrap(obj *goja.Object, name string, check func(goja.FunctionCall)) {
	original, ok := goja.AssertFunction(obj.Get(name))
	if !ok {
		return
	}
	length := obj.Get(name).ToObject(g.vm).Get("length")
	fn := g.vm.ToValue(func(call goja.FunctionCall) goja.Value {
		check(call)
		v, err := original(call.This, call.Arguments...)
		if err != nil {
			panic(err)
		}
		return v
	}).ToObject(g.vm)
	_ = fn.DefineDataProperty("name", g.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = fn.DefineDataProperty("length", length, goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = obj.DefineDataProperty(name, fn, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

// constructor replaces the global constructor name by a checking wrapper
// that shares its prototype, so instanceof and subclassing keep working.
func (g *guards) constructor(global *goja.Object, name string, bytesPerElement float64) {
	target, ok := global.Get(name).(*goja.Object)
	if !ok {
		return
	}
	construct, ok := goja.AssertConstructor(target)
	if !ok {
		return
	}
	var wrapper *goja.Object
	wrapper = g.vm.ToValue(func(call goja.ConstructorCall) *goja.Object {
		switch a := call.Argument(0).(type) {
		case *goja.Object:
			g.check(name+" source length", g.length(a), g.maxElement)
		default:
			if !goja.IsUndefined(a) {
				g.check(name+" size", a.ToFloat()*bytesPerElement, g.maxBytes)
			}
		}
		// goja gives no new.target when it is the wrapper itself (and also
		// when the wrapper is called without new, which then constructs).
		newTarget := call.NewTarget
		if newTarget == nil || newTarget == wrapper {
			newTarget = target
		}
		obj, err := construct(newTarget, call.Arguments...)
		if err != nil {
			panic(err)
		}
		return obj
	}).ToObject(g.vm)
	for _, key := range target.GetOwnPropertyNames() {
		switch key {
		case "length", "name", "prototype":
			_ = wrapper.DefineDataProperty(key, target.Get(key), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
		default:
			_ = wrapper.DefineDataProperty(key, target.Get(key), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
		}
	}
	_ = wrapper.SetPrototype(target.Prototype())
	if proto, ok := target.Get("prototype").(*goja.Object); ok {
		_ = proto.DefineDataProperty("constructor", wrapper, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	_ = global.DefineDataProperty(name, wrapper, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}
