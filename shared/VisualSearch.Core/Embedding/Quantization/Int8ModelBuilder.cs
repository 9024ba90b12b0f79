using System.Security.Cryptography;
using System.Text;
using VisualSearch.Imaging;

namespace VisualSearch.Embedding.Quantization;

/// <summary>What the int8 model is built from: the float model, how its input is made, and the calibration set.</summary>
/// <param name="SourcePath">The float32 ONNX file.</param>
/// <param name="SourceSha256">Hex SHA-256 of that file.</param>
/// <param name="CalibrationFiles">The calibration photos (the repository's samples/photos, copied to models/calibration).</param>
/// <param name="Preprocessor">The encoder's preprocessing (the tensors calibration feeds the model).</param>
/// <param name="RangeMethod">How activation ranges are taken.</param>
/// <param name="KeepFloat">The backbone layers that stay float (<see cref="Int8Quantizer.FloatUnits"/> selectors).</param>
/// <param name="CalibrationVariants">Augmented views per calibration photo.</param>
/// <param name="BiasCorrection">Whether each int8 Conv's bias is corrected for the mean shift of its output (<see cref="Quantization.BiasCorrection"/>).</param>
/// <param name="ExactPixels">Whether an int8 first Conv runs on the exact pixels (<see cref="PixelInput"/>; MeanImageBgr preprocessing only).</param>
/// <param name="CompensatedRounding">The int8 Convs (selectors as <paramref name="KeepFloat"/>) whose weights <see cref="Quantization.CompensatedRounding"/> rounds; null or empty: none.</param>
/// <param name="CompensatedMaxPatch">The longest patch a compensated Conv may have (<see cref="Quantization.CompensatedRounding.Measure"/>).</param>
/// <param name="DegradedViews">Copy-like degraded views per calibration photo (<see cref="CalibrationImages.Create"/>).</param>
/// <param name="WeightForm">How the int8 weights are stored (<see cref="Int8WeightForm"/>), which decides ONNX Runtime's integer kernels.</param>
public sealed record Int8BuildInput(
    string SourcePath, string SourceSha256, IReadOnlyList<string> CalibrationFiles, Preprocessor Preprocessor, RangeMethod RangeMethod,
    IReadOnlyList<string> KeepFloat, int CalibrationVariants = CalibrationImages.DefaultVariantsPerPhoto, bool BiasCorrection = true,
    IReadOnlyList<string>? CompensatedRounding = null, bool ExactPixels = true,
    int CompensatedMaxPatch = Quantization.CompensatedRounding.DefaultMaxPatchLength, int DegradedViews = 0, Int8WeightForm WeightForm = Int8WeightForm.S8);

/// <summary>
/// Builds the int8 model from the float one, or finds it already built. Built files are named by a key over
/// everything that decides their bytes (the source model's SHA-256, the quantiser version, the calibration
/// photos' bytes, the preprocessing and the range method), so a new package version or a changed quantiser
/// builds a new file and a stale one is never used. Written to a temporary file and renamed into place, so a
/// crash leaves no half-written model and two processes building at once both end with the same file.
/// </summary>
public static class Int8ModelBuilder
{
    /// <summary>The build input of the configured encoder: its float model, its calibration photos, its preprocessing.</summary>
    public static Int8BuildInput InputFor(EncoderOptions options, Preprocessor preprocessor)
    {
        ArgumentNullException.ThrowIfNull(options);
        var source = EncoderOptions.Resolve(options.ModelPath);
        var keepFloat = options.Int8KeepFloat.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var compensated = options.Int8CompensatedRounding.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return new Int8BuildInput(
            source, Sha256Of(source), CalibrationImages.Files(EncoderOptions.Resolve(options.CalibrationImagesPath)), preprocessor,
            options.Int8RangeMethod, keepFloat, options.Int8CalibrationVariants, options.Int8BiasCorrection, compensated, options.Int8ExactPixels,
            options.Int8CompensatedMaxPatch, options.Int8CalibrationDegradedViews, options.Int8Weights);
    }

    /// <summary>
    /// Where the int8 model is looked for, in order: beside the float model (where <c>vsearch quantize</c> puts it),
    /// then the cache (Encoder:Int8CachePath, default a visualsearch-models folder in the temporary directory),
    /// where a model built at first use goes.
    /// </summary>
    public static IReadOnlyList<string> SearchDirectories(EncoderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var cache = string.IsNullOrWhiteSpace(options.Int8CachePath)
            ? Path.Combine(Path.GetTempPath(), "visualsearch-models")
            : EncoderOptions.Resolve(options.Int8CachePath);
        return [Path.GetDirectoryName(EncoderOptions.Resolve(options.ModelPath))!, cache];
    }

    /// <summary>Hex SHA-256 of a file, remembered across processes while its size and time stay the same (<see cref="FileHashCache"/>).</summary>
    public static string Sha256Of(string path) => FileHashCache.Sha256Of(path, FileHashCache.DefaultDirectory);

    /// <summary>The file name the int8 model of this input has: <c>{name}-int8-{key}.onnx</c>.</summary>
    public static string FileName(string modelName, Int8BuildInput input) => $"{modelName}-int8-{Key(input)}.onnx";

    /// <summary>The cache key (24 hex digits).</summary>
    public static string Key(Int8BuildInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{Int8Quantizer.Version}\n{input.SourceSha256}\n{input.Preprocessor.Mode}\n{input.Preprocessor.Size}\n{input.RangeMethod}\n{CalibrationImages.DefaultSeed}\n{input.CalibrationVariants}\nfloat:{string.Join(',', input.KeepFloat)}\nbias:{input.BiasCorrection}\n"));
        // only when set, so the keys (and model ids) of models built before the setting existed stay the same
        if (input.CompensatedRounding is { Count: > 0 } compensated)
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"compensated:{string.Join(',', compensated)}\n"));
            if (input.CompensatedMaxPatch != Quantization.CompensatedRounding.DefaultMaxPatchLength) hash.AppendData(Encoding.UTF8.GetBytes($"compensated-max-patch:{input.CompensatedMaxPatch}\n"));
        }

        if (input.DegradedViews > 0) hash.AppendData(Encoding.UTF8.GetBytes($"degraded:{input.DegradedViews}\n"));
        if (input.WeightForm != Int8WeightForm.S8) hash.AppendData(Encoding.UTF8.GetBytes($"weights:{input.WeightForm}\n"));
        if (PixelsFor(input) is not null && !input.KeepFloat.Contains("first-conv")) hash.AppendData("pixels:exact\n"u8);
        foreach (var file in input.CalibrationFiles)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(Path.GetFileName(file) + "\n"));
            hash.AppendData(Convert.FromHexString(Sha256Of(file)));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset())[..24];
    }

    /// <summary>Quantises the model (calibration included) and returns the bytes. Seconds, not milliseconds.</summary>
    public static byte[] Build(Int8BuildInput input, IImageDecoder decoder)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(decoder);
        var prepared = Int8Quantizer.Prepare(File.ReadAllBytes(input.SourcePath));
        var tensors = CalibrationTensors(input, decoder);
        var ranges = Calibration.MeasureRanges(prepared, tensors, input.Preprocessor.Size, input.RangeMethod);
        var floatUnits = Int8Quantizer.FloatUnits(prepared, input.KeepFloat);
        var rounded = CompensatedWeights(input, prepared, floatUnits, tensors);
        var pixels = PixelsFor(input);
        var corrections = input.BiasCorrection ? BiasCorrection.Measure(prepared, ranges, floatUnits, tensors, input.Preprocessor.Size, rounded, pixels, input.WeightForm) : null;
        return Int8Quantizer.Quantize(prepared, ranges, floatUnits, corrections, rounded, pixels, input.WeightForm);
    }

    /// <summary>The mean image an int8 first Conv adds back to run on exact pixels; null unless <see cref="Int8BuildInput.ExactPixels"/> with MeanImageBgr preprocessing.</summary>
    public static PixelInput? PixelsFor(Int8BuildInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.ExactPixels && input.Preprocessor.MeanImage is { } mean
            ? new PixelInput([.. mean], input.Preprocessor.Size, input.Preprocessor.Size)
            : null;
    }

    /// <summary>
    /// The compensated int8 weights of the Convs <see cref="Int8BuildInput.CompensatedRounding"/> selects that are not in
    /// <paramref name="floatUnits"/>; null when it selects none.
    /// </summary>
    public static IReadOnlyDictionary<string, RoundedWeights>? CompensatedWeights(Int8BuildInput input, Onnx.ModelProto prepared, IReadOnlyCollection<string> floatUnits, IReadOnlyList<float[]> calibration)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(floatUnits);
        if (input.CompensatedRounding is not { Count: > 0 } selectors) return null;
        var units = Int8Quantizer.FloatUnits(prepared, selectors).Except(floatUnits).ToList();
        return units.Count == 0 ? null : CompensatedRounding.Measure(prepared, units, calibration, input.Preprocessor.Size, input.CompensatedMaxPatch, Int8Quantizer.MaxLevel(input.WeightForm));
    }

    /// <summary>The activation ranges of the prepared graph, measured on the calibration images.</summary>
    public static IReadOnlyDictionary<string, TensorRange> Calibrate(Int8BuildInput input, Onnx.ModelProto prepared, IImageDecoder decoder)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(prepared);
        return Calibration.MeasureRanges(prepared, CalibrationTensors(input, decoder), input.Preprocessor.Size, input.RangeMethod);
    }

    /// <summary>The calibration images as the model's input tensors.</summary>
    public static IReadOnlyList<float[]> CalibrationTensors(Int8BuildInput input, IImageDecoder decoder)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(decoder);
        var images = CalibrationImages.Create(input.CalibrationFiles, decoder, input.Preprocessor.Size, input.CalibrationVariants, degradedPerPhoto: input.DegradedViews);
        return images.Select(rgb => input.Preprocessor.Create(rgb)).ToList();
    }

    /// <summary>
    /// The path of the int8 model: an existing file of the right key in one of <paramref name="searchDirectories"/>
    /// (the build output, then the cache), or a new one built into the last of them.
    /// </summary>
    /// <param name="built">True when this call built the model.</param>
    public static string GetOrBuild(string modelName, Int8BuildInput input, IImageDecoder decoder, IReadOnlyList<string> searchDirectories, out bool built) =>
        FindOrWrite(FileName(modelName, input), searchDirectories, () => Build(input, decoder), out built);

    /// <summary>
    /// A derived model's path: the file <paramref name="fileName"/> in the first of <paramref name="searchDirectories"/>
    /// that has it, or the bytes of <paramref name="build"/> written there into the last (the int8 model, the
    /// feature-map model of issue 14).
    /// </summary>
    /// <param name="built">True when this call wrote the file.</param>
    public static string FindOrWrite(string fileName, IReadOnlyList<string> searchDirectories, Func<byte[]> build, out bool built)
    {
        ArgumentNullException.ThrowIfNull(searchDirectories);
        ArgumentNullException.ThrowIfNull(build);
        foreach (var directory in searchDirectories)
        {
            var candidate = Path.Combine(directory, fileName);
            if (File.Exists(candidate))
            {
                built = false;
                return candidate;
            }
        }

        var target = Path.Combine(searchDirectories[^1], fileName);
        Write(target, build());
        built = true;
        return target;
    }

    /// <summary>Writes the bytes to a temporary file beside the target, flushes, and renames it over the target.</summary>
    public static void Write(string target, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var directory = Path.GetDirectoryName(Path.GetFullPath(target))!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, $".{Path.GetFileName(target)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, target, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
