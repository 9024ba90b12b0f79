using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using VisualSearch.Embedding;
using VisualSearch.Embedding.Quantization;
using VisualSearch.Evaluation;
using VisualSearch.Imaging;

namespace VisualSearch.Cli;

/// <summary>
/// <c>vsearch quantize --sensitivity &lt;folder-or-manifest&gt; [--limit N] [--units] [--only SELECTORS]</c>: which layers int8 costs
/// most. Calibrates once (the configured method and photos), then embeds a spread sample of the set with the float
/// graph and with int8 models: all int8, the mixed choices of <see cref="Int8Quantizer.FloatUnits"/>, and with
/// <c>--units</c> one backbone unit (Conv or Add with its Relu) left in float at a time; each mixed choice (or only the
/// <c>--only</c> one) with and without bias correction, and with Encoder:Int8CompensatedRounding set, both again with those
/// Convs' weights rounded by <see cref="CompensatedRounding"/>. For each: mean and 1st-percentile cosine to float32, and the
/// share of images whose nearest other image in the sample is the one float32 picks (what Recall@1 rests on).
/// Also the share of the backbone's multiply-adds each unit holds, and for each model (float32 included) the median
/// time of one inference on one thread and the session creation from its bytes: what keeping units float costs.
/// </summary>
internal static class QuantizeSensitivity
{
    public static int Run(CliArgs args, EncoderOptions options, IImageDecoder decoder, TextWriter stdout, CancellationToken cancellationToken)
    {
        var set = Quality.LoadSet(args, QuantizeCommand.Usage);
        var limit = args.GetInt("limit", 600, 10, 100_000);
        var items = set.Items;
        var step = Math.Max(1, items.Count / limit);
        var sample = items.Where((_, i) => i % step == 0).Take(limit).ToList();

        var preprocessor = OnnxImageEncoder.CreatePreprocessor(options);
        var input = Int8ModelBuilder.InputFor(options, preprocessor);
        var prepared = Int8Quantizer.Prepare(File.ReadAllBytes(input.SourcePath));
        var calibration = Int8ModelBuilder.CalibrationTensors(input, decoder);
        var ranges = Calibration.MeasureRanges(prepared, calibration, preprocessor.Size, input.RangeMethod);
        var tensors = sample.Select(i => preprocessor.Create(decoder.Prepare(File.ReadAllBytes(i.Path), preprocessor.Size).Rgb)).ToList();
        stdout.WriteLine($"{sample.Count} images (every {step}th of {items.Count}), {input.CalibrationFiles.Count} calibration photos x {1 + input.CalibrationVariants} views, {input.RangeMethod} ranges");
        foreach (var tensor in Int8Quantizer.CalibrationTensors(prepared).Take(3)) stdout.WriteLine($"range of {tensor}: {ranges[tensor]}");

        var (reference, referenceTiming) = Embed(prepared.ToByteArray(), options, tensors, preprocessor.Size, cancellationToken);
        var referenceNeighbours = Nearest(reference);
        var units = Int8Quantizer.Backbone(prepared);
        var macs = MultiplyAdds(prepared, tensors[0], preprocessor.Size, options);
        var total = macs.Values.Sum();

        // each structural choice with and without bias correction, and with Encoder:Int8CompensatedRounding set, both again
        // with those Convs' weights compensated; with --units, one unit float at a time (no correction, nearest rounding)
        var configs = new List<(string Name, IReadOnlyList<string> Float, bool Correct, IReadOnlyDictionary<string, RoundedWeights>? Rounded)>();
        string[] selectors = args.Get("only") is { } only ? [only] : ["", "first-conv", "last-conv", "last-block", "first-conv,last-block", "first-conv,last-conv"];
        var pixels = Int8ModelBuilder.PixelsFor(input); // an int8 first Conv on exact pixels (Encoder:Int8ExactPixels)
        if (pixels is not null) stdout.WriteLine("an int8 first Conv runs on the exact pixels (Encoder:Int8ExactPixels)");
        var compensation = input.CompensatedRounding is { Count: > 0 } c ? $" + compensated rounding ({string.Join(',', c)})" : null;
        foreach (var selector in selectors)
        {
            var name = selector.Length == 0 ? "all int8" : selector;
            var floatUnits = Int8Quantizer.FloatUnits(prepared, selector.Split(',', StringSplitOptions.RemoveEmptyEntries));
            configs.Add((name, floatUnits, false, null));
            configs.Add((name + " + bias correction", floatUnits, true, null));
            if (compensation is null || Int8ModelBuilder.CompensatedWeights(input, prepared, floatUnits, calibration) is not { } rounded) continue;
            configs.Add((name + compensation, floatUnits, false, rounded));
            configs.Add((name + compensation + " + bias correction", floatUnits, true, rounded));
        }

        if (args.Has("units")) configs.AddRange(units.Where(u => u.OpType != "MaxPool").Select(u => ($"{u.OpType} {u.Name}", (IReadOnlyList<string>)[u.Name], false, (IReadOnlyDictionary<string, RoundedWeights>?)null)));

        stdout.WriteLine("| float units | MACs in float | mean cosine | p1 cosine | same nearest image | embed, 1 thread, p50 | session from bytes |");
        stdout.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| float32 (all) | 100 % | 1 | 1 | 100 % | {referenceTiming.EmbedMs:F2} ms | {referenceTiming.LoadMs:F0} ms |"));
        foreach (var (name, floatUnits, correct, rounded) in configs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var corrections = correct ? BiasCorrection.Measure(prepared, ranges, floatUnits, calibration, preprocessor.Size, rounded, pixels) : null;
            var (vectors, timing) = Embed(Int8Quantizer.Quantize(prepared, ranges, floatUnits, corrections, rounded, pixels), options, tensors, preprocessor.Size, cancellationToken);
            var cosines = vectors.Select((v, i) => (double)TensorPrimitives.CosineSimilarity(v, reference[i])).Order().ToList();
            var nearest = Nearest(vectors);
            var same = nearest.Where((n, i) => n == referenceNeighbours[i]).Count() / (double)nearest.Length;
            var share = floatUnits.Sum(u => macs.GetValueOrDefault(u)) / total;
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {share:P1} | {cosines.Average():F5} | {cosines[(int)(0.01 * (cosines.Count - 1))]:F4} | {same:P2} | {timing.EmbedMs:F2} ms | {timing.LoadMs:F0} ms |"));
        }

        return 0;
    }

    /// <summary>
    /// The vectors of every input, on one intra-op thread (as a <c>vsearch index</c> worker runs), with the median time
    /// of one inference and the time to create the session from the model's bytes. Timings compare only within a run.
    /// </summary>
    private static (float[][] Vectors, (double EmbedMs, double LoadMs) Timing) Embed(byte[] model, EncoderOptions options, IReadOnlyList<float[]> inputs, int size, CancellationToken cancellationToken)
    {
        using var sessionOptions = new Microsoft.ML.OnnxRuntime.SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        var load = Stopwatch.StartNew();
        using var session = new InferenceSession(model, sessionOptions);
        var loadMs = load.Elapsed.TotalMilliseconds;
        using var runOptions = new RunOptions();
        var result = new float[inputs.Count][];
        var times = new double[inputs.Count];
        for (var i = 0; i < inputs.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var value = OrtValue.CreateTensorValueFromMemory(inputs[i], [1, 3, size, size]);
            var start = Stopwatch.GetTimestamp();
            using var outputs = session.Run(runOptions, [options.InputName], [value], [options.OutputName]);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            result[i] = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }

        Array.Sort(times);
        return (result, (times[times.Length / 2], loadMs));
    }

    /// <summary>For each vector, the index of its most similar other vector.</summary>
    private static int[] Nearest(float[][] vectors)
    {
        var nearest = new int[vectors.Length];
        for (var i = 0; i < vectors.Length; i++)
        {
            var best = float.NegativeInfinity;
            for (var j = 0; j < vectors.Length; j++)
            {
                if (j == i) continue;
                var s = TensorPrimitives.CosineSimilarity(vectors[i], vectors[j]);
                if (s > best) (best, nearest[i]) = (s, j);
            }
        }

        return nearest;
    }

    /// <summary>Multiply-adds of each Conv (output elements x input channels per group x kernel area); Adds count as none.</summary>
    private static Dictionary<string, double> MultiplyAdds(ModelProto prepared, float[] input, int size, EncoderOptions options)
    {
        var convs = prepared.Graph.Node.Where(n => n.OpType == "Conv").ToList();
        var model = prepared.Clone();
        foreach (var conv in convs.Where(c => model.Graph.Output.All(o => o.Name != c.Output[0])))
            model.Graph.Output.Add(new ValueInfoProto { Name = conv.Output[0], Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
        using var session = new InferenceSession(model.ToByteArray());
        using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, size, size]);
        var names = convs.Select(c => c.Output[0]).ToList();
        using var outputs = session.Run(new RunOptions(), [options.InputName], [value], names);
        var weights = prepared.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        for (var i = 0; i < convs.Count; i++)
        {
            var w = weights[convs[i].Input[1]];
            var perOutput = w.Dims.Skip(1).Aggregate(1L, (a, b) => a * b);
            result[convs[i].Name] = (double)outputs[i].GetTensorTypeAndShape().ElementCount * perOutput;
        }

        return result;
    }
}
