using System.Diagnostics;
using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using VisualSearch.Diagnostics;
using VisualSearch.Embedding.Quantization;
using VisualSearch.Imaging;

namespace VisualSearch.Embedding;

/// <summary>A vector from an encoder: L2-normalised, with the norm it had before.</summary>
public readonly record struct Embedding(float[] Vector, float RawNorm)
{
    /// <summary>Extra vectors of regions of the image (issue 14), or null when the encoder makes none.</summary>
    public IReadOnlyList<Indexing.RegionVector>? Regions { get; init; }
}

/// <summary>Maps a prepared image to an embedding. Thread-safe; one instance per process.</summary>
public interface IImageEncoder
{
    /// <summary>The model identity (loads the model on first use).</summary>
    ModelInfo Model { get; }

    /// <summary>Square input side the decoder must produce.</summary>
    int InputSize { get; }

    Embedding Embed(PreparedImage image, CancellationToken cancellationToken = default);

    /// <summary>Loads the model and runs one inference, so the first real request pays neither.</summary>
    Task WarmUpAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// ONNX Runtime encoder: one <see cref="InferenceSession"/> per process (Run is thread-safe), loaded lazily.
/// </summary>
public sealed partial class OnnxImageEncoder : IImageEncoder, IDisposable
{
    private readonly EncoderOptions _options;
    private readonly ILogger<OnnxImageEncoder> _logger;
    private readonly VisualSearchMetrics _metrics;
    private readonly Lazy<Loaded> _loaded;

    public OnnxImageEncoder(IOptions<EncoderOptions> options, ILogger<OnnxImageEncoder> logger, VisualSearchMetrics metrics)
    {
        _options = options.Value;
        _logger = logger;
        _metrics = metrics;
        _loaded = new Lazy<Loaded>(Load, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public ModelInfo Model => _loaded.Value.Model;

    public int InputSize => _options.InputSize;

    public Embedding Embed(PreparedImage image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Size != _options.InputSize)
            throw new ArgumentException($"The image is {image.Size}px; the model takes {_options.InputSize}px.", nameof(image));
        cancellationToken.ThrowIfCancellationRequested();

        var loaded = _loaded.Value;
        var input = new float[loaded.Preprocessor.TensorLength];
        loaded.Preprocessor.Fill(image.Rgb, input);

        using var runOptions = new RunOptions();
        using var registration = cancellationToken.Register(static s => ((RunOptions)s!).Terminate = true, runOptions);
        using var inputValue = OrtValue.CreateTensorValueFromMemory(input, [1, 3, _options.InputSize, _options.InputSize]);
        float[] vector;
        try
        {
            using var outputs = loaded.Session.Run(runOptions, [_options.InputName], [inputValue], [_options.OutputName]);
            vector = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }

        var norm = TensorPrimitives.Norm(vector);
        if (norm > 0 && float.IsFinite(norm)) TensorPrimitives.Divide(vector, norm, vector);
        return loaded.Head is { } head ? head.Apply(vector) : new Embedding(vector, norm);
    }

    public Task WarmUpAsync(CancellationToken cancellationToken = default) => Task.Run(() =>
    {
        var sw = Stopwatch.StartNew();
        var size = _options.InputSize;
        var blank = new PreparedImage(new byte[size * size * 3], size, ImageFormat.Unknown, size, size);
        Embed(blank, cancellationToken);
        _metrics.RecordFirstInference(sw.Elapsed.TotalMilliseconds);
        Log.WarmedUp(_logger, Model.Id, sw.Elapsed.TotalMilliseconds);
    }, cancellationToken);

    public void Dispose()
    {
        if (_loaded.IsValueCreated) _loaded.Value.Session.Dispose();
    }

    private Loaded Load()
    {
        var sw = Stopwatch.StartNew();
        var path = EncoderOptions.Resolve(_options.ModelPath);
        if (!File.Exists(path))
            throw new FileNotFoundException($"The encoder model was not found at '{path}' (Encoder:ModelPath). The default ResNet18 is copied to the output folder at build.", path);

        var preprocessor = CreatePreprocessor(_options);
        var precision = _options.EffectivePrecision;
        if (precision == EncoderPrecision.Int8) path = Int8ModelPath(preprocessor);
        var sha256 = Int8ModelBuilder.Sha256Of(path);

        var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = _options.IntraOpThreads > 0 ? _options.IntraOpThreads : Math.Min(Environment.ProcessorCount, 4),
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", _options.AllowSpinning ? "1" : "0");
        if (_options.ExecutionProvider == ExecutionProvider.Cuda)
        {
            try
            {
                sessionOptions.AppendExecutionProvider_CUDA(_options.CudaDeviceId);
            }
            catch (Exception ex) when (ex is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
            {
                sessionOptions.Dispose();
                throw new InvalidOperationException(
                    "Encoder:ExecutionProvider is Cuda, but this build of ONNX Runtime has no CUDA provider or CUDA 12/cuDNN 9 is missing. " +
                    "Build with -p:OnnxRuntimeFlavor=Gpu (see infra/gpu/README.md) or set Encoder:ExecutionProvider=Cpu.", ex);
            }
        }

        InferenceSession session;
        using (sessionOptions) session = new InferenceSession(path, sessionOptions);
        try
        {
            if (!session.InputMetadata.ContainsKey(_options.InputName))
                throw new InvalidOperationException($"The model has no input '{_options.InputName}' (has: {string.Join(", ", session.InputMetadata.Keys)}). Set Encoder:InputName.");
            if (!session.OutputMetadata.TryGetValue(_options.OutputName, out var output))
                throw new InvalidOperationException($"The model has no output '{_options.OutputName}' (has: {string.Join(", ", session.OutputMetadata.Keys)}). Set Encoder:OutputName.");

            var dimension = output.Dimensions.Skip(1).Where(d => d > 0).Aggregate(1, (a, b) => a * b);
            var head = LoadHead(new ModelInfo(_options.ModelName, sha256, dimension, Precision: precision));
            var model = new ModelInfo(_options.ModelName, sha256, head?.OutputDimension ?? dimension, head?.Info, precision);
            _metrics.RecordModelLoad(sw.Elapsed.TotalMilliseconds);
            Log.ModelLoaded(_logger, model.Id, path, sw.Elapsed.TotalMilliseconds);
            return new Loaded(session, preprocessor, model, head);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>The preprocessing of these options (for MeanImageBgr, with the mean image read from its graph).</summary>
    public static Preprocessor CreatePreprocessor(EncoderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var mean = options.Preprocessing == PreprocessingMode.MeanImageBgr ? ReadMeanImage(options) : null;
        return new Preprocessor(options.Preprocessing, options.InputSize, mean);
    }

    /// <summary>
    /// The int8 model of the configured float one: one built beside it (vsearch quantize), one in the cache, or
    /// one quantised now (seconds, once per machine and model) into the cache.
    /// </summary>
    private string Int8ModelPath(Preprocessor preprocessor)
    {
        var sw = Stopwatch.StartNew();
        var input = Int8ModelBuilder.InputFor(_options, preprocessor);
        var decoder = new ImageDecoder(Options.Create(new ImagingOptions()));
        var path = Int8ModelBuilder.GetOrBuild(_options.ModelName, input, decoder, Int8ModelBuilder.SearchDirectories(_options), out var built);
        if (built) Log.Int8ModelBuilt(_logger, path, input.CalibrationFiles.Count, sw.Elapsed.TotalMilliseconds);
        return path;
    }

    /// <summary>The mean image of a graph y = x - mean, read by running it once on zeros (y = -mean).</summary>
    private static float[] ReadMeanImage(EncoderOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.MeanImageModelPath))
            throw new InvalidOperationException("Encoder:Preprocessing MeanImageBgr needs Encoder:MeanImageModelPath.");
        var path = EncoderOptions.Resolve(options.MeanImageModelPath);
        using var session = new InferenceSession(path);
        var inputName = session.InputMetadata.Keys.Single();
        var size = options.InputSize;
        using var zeros = OrtValue.CreateTensorValueFromMemory(new float[3 * size * size], [1, 3, size, size]);
        using var outputs = session.Run(new RunOptions(), [inputName], [zeros], [session.OutputMetadata.Keys.Single()]);
        var mean = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        TensorPrimitives.Negate(mean, mean);
        return mean;
    }

    /// <summary>The configured projection head, checked against the backbone it was trained on; null when none is set.</summary>
    private ProjectionHead? LoadHead(ModelInfo backbone)
    {
        if (string.IsNullOrWhiteSpace(_options.HeadPath)) return null;
        var path = EncoderOptions.Resolve(_options.HeadPath);
        if (!File.Exists(path))
            throw new FileNotFoundException($"The projection head was not found at '{path}' (Encoder:HeadPath).", path);
        var head = ProjectionHead.Load(path);
        if (head.InputDimension != backbone.Dimension || !string.Equals(head.BackboneModelId, backbone.Id, StringComparison.Ordinal))
            throw new InvalidOperationException(
                $"The projection head '{path}' was trained on '{head.BackboneModelId}' ({head.InputDimension}-d), not on the configured encoder '{backbone.Id}'. Train a head for this encoder (vsearch train) or unset Encoder:HeadPath.");
        return head;
    }

    private sealed record Loaded(InferenceSession Session, Preprocessor Preprocessor, ModelInfo Model, ProjectionHead? Head);
}
