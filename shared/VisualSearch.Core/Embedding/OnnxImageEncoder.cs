using System.Diagnostics;
using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
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

    /// <summary>Square input side the decoder must produce (for a whole-image input, see <see cref="Input"/>).</summary>
    int InputSize { get; }

    /// <summary>What the decoder must produce: a centre crop of <see cref="InputSize"/>, or the whole image (issue 14).</summary>
    ImageInput Input => new(InputSize);

    Embedding Embed(PreparedImage image, CancellationToken cancellationToken = default);

    /// <summary>
    /// A search's query vector: <see cref="Embed"/>, unless the encoder treats a query's flat background apart
    /// (<see cref="EncoderOptions.QueryBackground"/>; <see cref="ModelInfo.QueryPath"/> then says how). Stored items use <see cref="Embed"/>.
    /// </summary>
    Embedding EmbedQuery(PreparedImage image, CancellationToken cancellationToken = default) => Embed(image, cancellationToken);

    /// <summary>
    /// A search's second query view (<see cref="QueryBackgroundMode.CropView"/>, docs/quality.md 7i): the picture inside the
    /// query's flat background, embedded as <see cref="QueryBackgroundMode.Crop"/> embeds it (<see cref="ModelInfo.CropViewPath"/>
    /// says how); null when the encoder keeps no crop view or the query has no such background. <see cref="EmbedQuery"/> is then
    /// the whole view.
    /// </summary>
    Embedding? EmbedQueryCrop(PreparedImage image, CancellationToken cancellationToken = default) => null;

    /// <summary>
    /// What the decoder must also produce for a stored item's detail regions (issue 14, <see cref="EncoderOptions.DetailRegionSide"/>):
    /// the whole image at a larger size; null when the encoder makes none. Queries never need it.
    /// </summary>
    ImageInput? RegionInput => null;

    /// <summary>The detail regions of a stored item, from its <see cref="RegionInput"/> pixels (boxes in the original's pixels).</summary>
    IReadOnlyList<Indexing.RegionVector> EmbedRegions(PreparedImage image, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"{GetType().Name} makes no detail regions.");

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

    /// <summary>The ONNX file the session runs (the int8 or feature-map model derived from the configured one, when that is what runs); loads the model.</summary>
    public string ModelFile => _loaded.Value.ModelFile;

    public int InputSize => _options.EffectiveDescriptor == DescriptorMode.FeatureMap ? _options.ShorterSide : _options.InputSize;

    public ImageInput Input => _options.EffectiveDescriptor == DescriptorMode.FeatureMap
        ? new ImageInput(_options.ShorterSide, WholeImage: true, _options.MaxLongerSide, EncoderOptions.MapStride)
        : new ImageInput(_options.InputSize);

    public ImageInput? RegionInput => _options.EffectiveDescriptor == DescriptorMode.FeatureMap ? _options.DetailRegionInput : null;

    /// <summary>
    /// The detail regions (<see cref="EncoderOptions.DetailRegionSide"/>): the whole image at the larger size through the
    /// map model, each window of <see cref="DetailRegionGrid"/> pooled like the whole (the flat-cell mask too, when on) and
    /// L2-normalised, with its box in the original's pixels.
    /// </summary>
    public IReadOnlyList<Indexing.RegionVector> EmbedRegions(PreparedImage image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (RegionInput is not { } input) throw new InvalidOperationException("Encoder:DetailRegionSide is 0 (or the descriptor is not FeatureMap): there are no detail regions to make.");
        if (image.Size > input.Size || Math.Max(image.PixelWidth, image.PixelHeight) > input.MaxLongerSide)
            throw new ArgumentException(
                $"The image is {image.PixelWidth}x{image.PixelHeight}px; detail regions take whole images of shorter side {input.Size}px, longer side at most {input.MaxLongerSide}px.", nameof(image));
        cancellationToken.ThrowIfCancellationRequested();
        var map = RunMap(_loaded.Value, image, cancellationToken);
        var keep = _options.MaskFlatCells
            ? FeatureMapPooling.NonFlatCells(image.Rgb, image.PixelWidth, image.PixelHeight, map.Width, map.Height, EncoderOptions.FlatCellTolerance)
            : null;
        var regions = new List<Indexing.RegionVector>();
        foreach (var rect in DetailRegionGrid.Compute(map.Width, map.Height, _options.DetailRegionWindows, _options.DetailRegionLimit))
        {
            var vector = new float[map.Channels];
            if (keep is null) FeatureMapPooling.Pool(map.Values, map.Channels, map.Height, map.Width, rect, _options.Pooling, _options.GemP, vector);
            else FeatureMapPooling.PoolCells(map.Values, map.Channels, map.Height, map.Width, rect, keep, _options.Pooling, _options.GemP, vector);
            var norm = TensorPrimitives.Norm(vector);
            if (norm > 0 && float.IsFinite(norm)) TensorPrimitives.Divide(vector, norm, vector);
            regions.Add(new Indexing.RegionVector(vector, RegionGrid.ToImageBox(rect, map.Width, map.Height, image.Width, image.Height)));
        }

        return regions;
    }

    public Embedding EmbedQuery(PreparedImage image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        // CropView: this is the whole view, embedded as a stored item is (the crop is EmbedQueryCrop).
        if (!QueryBackgroundActive || _options.QueryBackground == QueryBackgroundMode.CropView) return Embed(image, cancellationToken);
        if (_options.QueryBackground != QueryBackgroundMode.Crop) return EmbedFeatureMap(image, cancellationToken, query: true);
        return EmbedCrop(image, cancellationToken) ?? Embed(image, cancellationToken);
    }

    public Embedding? EmbedQueryCrop(PreparedImage image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        return QueryBackgroundActive && _options.QueryBackground == QueryBackgroundMode.CropView ? EmbedCrop(image, cancellationToken) : null;
    }

    /// <summary>The picture inside the query's background embedded (<see cref="Picture"/>), or null when the detector finds none.</summary>
    private Embedding? EmbedCrop(PreparedImage image, CancellationToken cancellationToken) =>
        BorderBackground.Find(image.Rgb, image.PixelWidth, image.PixelHeight) is { } background
            ? EmbedFeatureMap(Picture(image, background), cancellationToken, query: false)
            : null;

    /// <summary>
    /// The picture inside a query's background (<see cref="QueryBackgroundMode.Crop"/>): the square inscribed in a circular
    /// detail at the query's own scale (its sides rounded to the map's stride: the detail's features stay at the scale the
    /// detail regions were made for), the picture between letterbox bars scaled to the encoder's input (it is a whole picture).
    /// </summary>
    private PreparedImage Picture(PreparedImage image, QueryBackgroundShape background)
    {
        int Stride(int side, int limit) => Math.Clamp((int)Math.Round(side / (double)EncoderOptions.MapStride) * EncoderOptions.MapStride, Math.Min(limit, EncoderOptions.MapStride), limit);
        var (w, h) = background.Kind == BackgroundShapeKind.EllipseCorners
            ? (Stride(background.Width, image.PixelWidth), Stride(background.Height, image.PixelHeight))
            : (background.Width, background.Height);
        int x0 = background.X + (background.Width - w) / 2, y0 = background.Y + (background.Height - h) / 2;
        var rgb = new byte[w * h * 3];
        for (var y = 0; y < h; y++) image.Rgb.AsSpan(((y0 + y) * image.PixelWidth + x0) * 3, w * 3).CopyTo(rgb.AsSpan(y * w * 3));
        var picture = new PreparedImage(rgb, w, h, image.Format, image.Width, image.Height);
        if (background.Kind == BackgroundShapeKind.EllipseCorners) return picture;
        var (sw, sh) = Input.ScaledSize(w, h);
        return ImageDecoder.Rescale(picture, sw, sh);
    }

    /// <summary>Whether queries treat their flat background apart: <see cref="EncoderOptions.QueryBackground"/> set, on the feature map.</summary>
    private bool QueryBackgroundActive => _options.QueryBackground != QueryBackgroundMode.None && _options.EffectiveDescriptor == DescriptorMode.FeatureMap;

    public Embedding Embed(PreparedImage image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (_options.EffectiveDescriptor == DescriptorMode.FeatureMap) return EmbedFeatureMap(image, cancellationToken, query: false);
        if (image.Size != _options.InputSize || image.PixelWidth != image.PixelHeight)
            throw new ArgumentException($"The image is {image.Size}px; the model takes {_options.InputSize}px.", nameof(image));
        cancellationToken.ThrowIfCancellationRequested();

        var loaded = _loaded.Value;
        // The input tensor in native memory: a managed one is a 600 KB large-object allocation per image, whose gen2
        // collections (Server GC, on every core) cost the 2-thread embed 2-4 ms (docs/performance.md, seventh session).
        using var inputValue = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, [1, 3, _options.InputSize, _options.InputSize]);
        loaded.Preprocessor.Fill(image.Rgb, inputValue.GetTensorMutableDataAsSpan<float>());

        using var runOptions = new RunOptions();
        using var registration = cancellationToken.Register(static s => ((RunOptions)s!).Terminate = true, runOptions);
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

    /// <summary>
    /// The feature-map descriptor: the whole image through the map model, pooled (<see cref="FeatureMapPooling"/>),
    /// with a second size averaged in when configured, and the regions' vectors when <see cref="EncoderOptions.Regions"/> is on.
    /// A <paramref name="query"/> with <see cref="EncoderOptions.QueryBackground"/> has its flat background filled and/or left out of the pool.
    /// </summary>
    private Embedding EmbedFeatureMap(PreparedImage image, CancellationToken cancellationToken, bool query)
    {
        if (image.Size > _options.ShorterSide || Math.Max(image.PixelWidth, image.PixelHeight) > _options.MaxLongerSide)
            throw new ArgumentException(
                $"The image is {image.PixelWidth}x{image.PixelHeight}px; the encoder takes whole images of shorter side {_options.ShorterSide}px, longer side at most {_options.MaxLongerSide}px.", nameof(image));
        cancellationToken.ThrowIfCancellationRequested();
        var loaded = _loaded.Value;
        var background = query && QueryBackgroundActive ? Background(image) : null;
        var map = RunMap(loaded, image, cancellationToken, background);
        var vector = PoolWhole(map, image, background);
        if (_options.SecondShorterSide > 0)
        {
            var (w, h) = new ImageInput(_options.SecondShorterSide, WholeImage: true, _options.MaxLongerSide, EncoderOptions.MapStride).ScaledSize(image.PixelWidth, image.PixelHeight);
            var smaller = ImageDecoder.Rescale(image, w, h);
            var smallerBackground = background is null ? null : Background(smaller);
            var other = PoolWhole(RunMap(loaded, smaller, cancellationToken, smallerBackground), smaller, smallerBackground);
            TensorPrimitives.Add(vector, other, vector);
            TensorPrimitives.Divide(vector, 2f, vector);
        }

        var norm = TensorPrimitives.Norm(vector);
        if (norm > 0 && float.IsFinite(norm)) TensorPrimitives.Divide(vector, norm, vector);
        if (loaded.Head is { } head) return head.Apply(vector);
        return new Embedding(vector, norm) { Regions = _options.Regions ? Regions(map, image) : null };
    }

    /// <summary>A query's flat background (<see cref="BorderBackground"/>), or null when it has none.</summary>
    private static bool[]? Background(PreparedImage image)
    {
        var mask = BorderBackground.Detect(image.Rgb, image.PixelWidth, image.PixelHeight);
        return mask.AsSpan().Contains(true) ? mask : null;
    }

    /// <summary>
    /// The whole map pooled; with <see cref="EncoderOptions.MaskFlatCells"/>, only the cells whose block of the image is not flat;
    /// with a query's <paramref name="background"/> and <see cref="QueryBackgroundMode.Pool"/>, only the cells mostly not background too.
    /// </summary>
    private float[] PoolWhole(FeatureMap map, PreparedImage image, bool[]? background = null)
    {
        var picture = background is not null && _options.QueryBackground is QueryBackgroundMode.Pool or QueryBackgroundMode.FillAndPool
            ? BorderBackground.KeptCells(background, image.PixelWidth, image.PixelHeight, map.Width, map.Height)
            : null;
        if (!_options.MaskFlatCells && picture is null) return FeatureMapPooling.PoolAll(map.Values, map.Channels, map.Height, map.Width, _options.Pooling, _options.GemP);
        var keep = _options.MaskFlatCells ? FeatureMapPooling.NonFlatCells(image.Rgb, image.PixelWidth, image.PixelHeight, map.Width, map.Height, EncoderOptions.FlatCellTolerance) : picture!;
        if (picture is not null && _options.MaskFlatCells)
        {
            // Both masks: the cells either keeps; the picture's cells alone when the flat-cell mask leaves none of them.
            var both = new bool[keep.Length];
            for (var i = 0; i < both.Length; i++) both[i] = keep[i] && picture[i];
            keep = both.AsSpan().Contains(true) ? both : picture;
        }

        var vector = new float[map.Channels];
        FeatureMapPooling.PoolCells(map.Values, map.Channels, map.Height, map.Width, keep, _options.Pooling, _options.GemP, vector);
        return vector;
    }

    /// <summary>One vector per region of the map (<see cref="RegionGrid"/>), pooled like the whole and L2-normalised, with its box in the original image.</summary>
    private List<Indexing.RegionVector> Regions(FeatureMap map, PreparedImage image)
    {
        var regions = new List<Indexing.RegionVector>();
        foreach (var rect in RegionGrid.Compute(map.Width, map.Height, _options.RegionScales))
        {
            var vector = new float[map.Channels];
            FeatureMapPooling.Pool(map.Values, map.Channels, map.Height, map.Width, rect, _options.Pooling, _options.GemP, vector);
            var norm = TensorPrimitives.Norm(vector);
            if (norm > 0 && float.IsFinite(norm)) TensorPrimitives.Divide(vector, norm, vector);
            regions.Add(new Indexing.RegionVector(vector, RegionGrid.ToImageBox(rect, map.Width, map.Height, image.Width, image.Height)));
        }

        return regions;
    }

    /// <param name="background">
    /// A query's flat background: with <see cref="QueryBackgroundMode.Fill"/> its pixels enter the network as the mean pixel
    /// (zero in every plane after the mean subtraction).
    /// </param>
    private FeatureMap RunMap(Loaded loaded, PreparedImage image, CancellationToken cancellationToken, bool[]? background = null)
    {
        var input = loaded.Preprocessor.CreateWhole(image.Rgb, image.PixelWidth, image.PixelHeight);
        if (background is not null && _options.QueryBackground is QueryBackgroundMode.Fill or QueryBackgroundMode.FillAndPool)
            Preprocessor.ZeroPixels(input, background);
        using var runOptions = new RunOptions();
        using var registration = cancellationToken.Register(static s => ((RunOptions)s!).Terminate = true, runOptions);
        using var inputValue = OrtValue.CreateTensorValueFromMemory(input, [1, 3, image.PixelHeight, image.PixelWidth]);
        try
        {
            using var outputs = loaded.Session.Run(runOptions, [_options.InputName], [inputValue], [_options.FeatureMapTensor]);
            var shape = outputs[0].GetTensorTypeAndShape().Shape;
            return new FeatureMap(outputs[0].GetTensorDataAsSpan<float>().ToArray(), (int)shape[1], (int)shape[2], (int)shape[3]);
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }

    /// <summary>
    /// How queries are made (<see cref="ModelInfo.QueryPath"/>) with a <see cref="EncoderOptions.QueryBackground"/>: <c>bgfill</c>,
    /// <c>bgpool</c>, <c>bgfillpool</c>, <c>bgcrop</c> (and <see cref="QueryBackgroundMode.CropView"/>'s crop, <see cref="ModelInfo.CropViewPath"/>).
    /// </summary>
    public static string QueryPathId(QueryBackgroundMode mode) => mode switch
    {
        QueryBackgroundMode.Fill => "bgfill",
        QueryBackgroundMode.Pool => "bgpool",
        QueryBackgroundMode.FillAndPool => "bgfillpool",
        QueryBackgroundMode.Crop or QueryBackgroundMode.CropView => "bgcrop",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "No query path for None."),
    };

    /// <summary>The detail regions' part of the model id, e.g. <c>dr448c3-4n60</c>, or null when there are none.</summary>
    public static string? DetailRegionsId(EncoderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.DetailRegionInput is not { } input) return null;
        var id = $"dr{input.Size}c{string.Join('-', options.DetailRegionWindows)}n{options.DetailRegionLimit}";
        return input.MaxLongerSide == 2 * input.Size ? id : id + $"max{input.MaxLongerSide}";
    }

    /// <summary>The descriptor's part of the model id, e.g. <c>map-gem3-s224</c>, <c>map-avg-s288</c>, <c>map-gem3-s224-s288</c>, <c>map-gem3-s224-flat</c>.</summary>
    public static string DescriptorId(EncoderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var pool = options.Pooling == PoolingMethod.Average
            ? "avg"
            : "gem" + options.GemP.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture).Replace('.', 'p');
        var id = $"map-{pool}-s{options.ShorterSide}";
        if (options.SecondShorterSide > 0) id += $"-s{options.SecondShorterSide}";
        if (options.MaxLongerSide != 2 * options.ShorterSide) id += $"-max{options.MaxLongerSide}";
        if (options.MaskFlatCells) id += "-flat";
        return id;
    }

    public Task WarmUpAsync(CancellationToken cancellationToken = default) => Task.Run(() =>
    {
        var sw = Stopwatch.StartNew();
        var size = InputSize;
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
        var descriptor = _options.EffectiveDescriptor;
        if (precision == EncoderPrecision.Int8) path = Int8ModelPath(preprocessor);
        if (descriptor == DescriptorMode.FeatureMap) path = FeatureMapModelPath(path);
        var outputName = descriptor == DescriptorMode.FeatureMap ? _options.FeatureMapTensor : _options.OutputName;
        var sha256 = Int8ModelBuilder.Sha256Of(path);

        var sessionOptions = CreateSessionOptions(_options);
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
            if (!session.OutputMetadata.TryGetValue(outputName, out var output))
                throw new InvalidOperationException($"The model has no output '{outputName}' (has: {string.Join(", ", session.OutputMetadata.Keys)}). Set Encoder:OutputName.");

            // The map's channels are its dimension (N x C x h x w); the pooled output's is the product of its fixed sizes.
            var dimension = descriptor == DescriptorMode.FeatureMap ? output.Dimensions[1] : output.Dimensions.Skip(1).Where(d => d > 0).Aggregate(1, (a, b) => a * b);
            var descriptorId = descriptor == DescriptorMode.FeatureMap ? DescriptorId(_options) : null;
            var head = LoadHead(new ModelInfo(_options.ModelName, sha256, dimension, Precision: precision, Descriptor: descriptorId));
            var model = new ModelInfo(_options.ModelName, sha256, head?.OutputDimension ?? dimension, head?.Info, precision, descriptorId)
            {
                // CropView's whole view is the items' vector; its crop view is made as Crop's query.
                QueryPath = QueryBackgroundActive && _options.QueryBackground != QueryBackgroundMode.CropView ? QueryPathId(_options.QueryBackground) : null,
                CropViewPath = QueryBackgroundActive && _options.QueryBackground == QueryBackgroundMode.CropView ? QueryPathId(_options.QueryBackground) : null,
                // What EmbedFeatureMap makes: the index is opened with it and records it (issue 14, index side).
                Regions = descriptor == DescriptorMode.FeatureMap && (_options.Regions || _options.DetailRegionSide > 0) && head is null,
                DetailRegions = descriptor == DescriptorMode.FeatureMap && head is null ? DetailRegionsId(_options) : null,
            };
            if (descriptor != _options.Descriptor) Log.Int8RunsCentreCrop(_logger, _options.Descriptor, model.Id);
            _metrics.RecordModelLoad(sw.Elapsed.TotalMilliseconds);
            Log.ModelLoaded(_logger, model.Id, path, sw.Elapsed.TotalMilliseconds);
            return new Loaded(session, preprocessor, model, head, path);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The CPU session settings of these options (the CUDA provider is added by the encoder): every graph optimisation,
    /// <see cref="EncoderOptions.IntraOpThreads"/> threads, sequential, spinning as <see cref="EncoderOptions.EffectiveAllowSpinning"/>.
    /// The bench runs the model alone with the same settings (docs/performance.md).
    /// </summary>
    public static SessionOptions CreateSessionOptions(EncoderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = options.IntraOpThreads > 0 ? options.IntraOpThreads : Math.Min(Environment.ProcessorCount, 4),
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", options.EffectiveAllowSpinning ? "1" : "0");
        return sessionOptions;
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

    /// <summary>The feature-map model derived from the float one: one beside it or in the cache, or one written now (milliseconds).</summary>
    private string FeatureMapModelPath(string source)
    {
        var sw = Stopwatch.StartNew();
        var path = FeatureMapModel.GetOrBuild(_options.ModelName, source, _options.FeatureMapTensor, Int8ModelBuilder.SearchDirectories(_options), out var built);
        if (built) Log.FeatureMapModelBuilt(_logger, path, sw.Elapsed.TotalMilliseconds);
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
            throw new FileNotFoundException($"The projection head was not found at '{path}' ({_options.HeadSetting}).", path);
        var head = ProjectionHead.Load(path);
        if (head.InputDimension != backbone.Dimension || !string.Equals(head.BackboneModelId, backbone.Id, StringComparison.Ordinal))
            throw new InvalidOperationException(
                $"The projection head '{path}' was trained on '{head.BackboneModelId}' ({head.InputDimension}-d), not on the configured encoder '{backbone.Id}'. Train a head for this encoder (vsearch train) or unset {_options.HeadSetting}.");
        return head;
    }

    /// <summary>One image's feature map: Channels planes of Height x Width.</summary>
    private sealed record FeatureMap(float[] Values, int Channels, int Height, int Width);

    private sealed record Loaded(InferenceSession Session, Preprocessor Preprocessor, ModelInfo Model, ProjectionHead? Head, string ModelFile);
}
