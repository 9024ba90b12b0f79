using System.ComponentModel.DataAnnotations;

namespace VisualSearch.Embedding;

/// <summary>How pixels become the model's input tensor.</summary>
public enum PreprocessingMode
{
    /// <summary>
    /// Caffe/CNTK ResNet: planes in B, G, R order, values 0-255, minus a per-pixel mean image read from
    /// <see cref="EncoderOptions.MeanImageModelPath"/> (the package's ResNetPreprocess.onnx). No scaling, no std.
    /// </summary>
    MeanImageBgr,

    /// <summary>torchvision ImageNet: R, G, B planes, value/255, minus (0.485, 0.456, 0.406), divided by (0.229, 0.224, 0.225).</summary>
    ImageNet,

    /// <summary>R, G, B planes, value/255, nothing else (CLIP-free simple exports).</summary>
    UnitRgb,
}

/// <summary>ONNX Runtime execution providers the encoder can use.</summary>
public enum ExecutionProvider
{
    Cpu,
    Cuda,
}

/// <summary>The numbers the encoder computes with.</summary>
public enum EncoderPrecision
{
    /// <summary>
    /// The float32 model as published: the default (the int8 model, first convolution float and biases corrected, still
    /// misses issue 13's Recall@1 bound on art4apps by one query and its copy-detection bound on two edits: docs/quality.md
    /// section 6c) and what the CUDA path runs.
    /// </summary>
    Float32,

    /// <summary>
    /// An int8 model (QDQ: int8 weights per channel, uint8 activations; the first convolution float,
    /// <see cref="EncoderOptions.Int8KeepFloat"/>) quantised from the float model on this machine (vsearch quantize, or
    /// at first use into a cache), calibrated on the bundled photos (Embedding/Quantization). Several times faster
    /// embedding on a CPU, about a quarter of the size (docs/quality.md section 6 and docs/performance.md have where it
    /// stands against issue 13's checks). CPU only: with <see cref="ExecutionProvider.Cuda"/> the float model runs.
    /// </summary>
    Int8,
}

/// <summary>The numbers a search's query image is embedded with, against the stored items' <see cref="EncoderPrecision"/>.</summary>
public enum QueryPrecision
{
    /// <summary>As the stored items are (<see cref="EncoderOptions.Precision"/>).</summary>
    Same,

    /// <summary>
    /// Float32, whatever the items are: with <see cref="EncoderPrecision.Int8"/> the bulk of the work (ingest) runs int8 and
    /// the one query of a search runs the float model (docs/quality.md section 6g).
    /// </summary>
    Float32,
}

/// <summary>How the vector is taken from the network (issue 14; docs/quality.md has the measurements).</summary>
public enum DescriptorMode
{
    /// <summary>
    /// The network's own output (<see cref="EncoderOptions.OutputName"/>, its global average pool) over the centre
    /// <see cref="EncoderOptions.InputSize"/> square of the image, the shorter side scaled to it: what indexes built
    /// before issue 14 hold, and what the int8 model computes.
    /// </summary>
    CentreCrop,

    /// <summary>
    /// The whole image, aspect ratio kept (shorter side <see cref="EncoderOptions.ShorterSide"/>, longer side at most
    /// <see cref="EncoderOptions.MaxLongerSide"/>), through the feature-map model (<see cref="FeatureMapModel"/>: the
    /// graph cut before its pool, input size dynamic), the map pooled in C# by <see cref="EncoderOptions.Pooling"/>.
    /// </summary>
    FeatureMap,
}

/// <summary>
/// The second vector an item may carry for copy search (issue 14's dual design): none, or the feature-map descriptor
/// stored in a copy space beside the category vector (<see cref="Indexing.CopySpace"/>).
/// </summary>
public enum CopyDescriptorMode
{
    /// <summary>No copy space: one vector per item, copy search and duplicates use the category vectors (the default before session 11).</summary>
    None,

    /// <summary>
    /// A <see cref="DescriptorMode.FeatureMap"/> vector (with this section's FeatureMap settings: sizes, pooling,
    /// <see cref="EncoderOptions.MaskFlatCells"/>) stored in a second index version of its own model id, read by copy search,
    /// duplicates and <c>cutoff=auto</c>. The default (docs/quality.md "The shipped default").
    /// </summary>
    FeatureMap,
}

/// <summary>The image encoder. Section "Encoder". The defaults are the bundled ResNet18.</summary>
public sealed class EncoderOptions
{
    public const string SectionName = "Encoder";

    /// <summary>Short model name that starts the model id (letters, digits, '-', '_').</summary>
    [Required, RegularExpression("^[A-Za-z0-9_-]{1,40}$")]
    public string ModelName { get; set; } = "resnet18";

    /// <summary>The ONNX file; relative paths resolve against the application directory.</summary>
    [Required]
    public string ModelPath { get; set; } = "models/resnet18/ResNet18.onnx";

    [Required]
    public string InputName { get; set; } = "Input247";

    [Required]
    public string OutputName { get; set; } = "Pooling395_Output_0";

    /// <summary>Square input side in pixels (the <see cref="DescriptorMode.CentreCrop"/> descriptor).</summary>
    [Range(16, 2048)]
    public int InputSize { get; set; } = 224;

    public PreprocessingMode Preprocessing { get; set; } = PreprocessingMode.MeanImageBgr;

    /// <summary>For <see cref="PreprocessingMode.MeanImageBgr"/>: an ONNX graph x -> x - mean whose mean image is read once at load.</summary>
    public string? MeanImageModelPath { get; set; } = "models/resnet18/ResNetPreprocess.onnx";

    /// <summary>
    /// Optional projection head (a file written by <c>vsearch train</c>, see <see cref="ProjectionHead"/>) applied
    /// after the backbone: y = normalize(W (x - mean)). It changes the model id and the dimension, so vectors
    /// made with and without it (or with another head) never mix. Unset: the backbone's vectors as they are.
    /// </summary>
    public string? HeadPath { get; set; }

    /// <summary>
    /// Float32 (default) or Int8. The model id says which (<c>resnet18-&lt;sha12&gt;-int8-512</c>), so an index never
    /// mixes them; changing it (or the int8 settings below) needs <c>vsearch reindex</c>. The CUDA path always runs Float32.
    /// </summary>
    public EncoderPrecision Precision { get; set; } = EncoderPrecision.Float32;

    /// <summary>
    /// What a search by image embeds its query with: <see cref="QueryPrecision.Same"/> (default) as the stored items are, or
    /// <see cref="QueryPrecision.Float32"/>: with <see cref="EncoderPrecision.Int8"/> the items (ingest, the bulk of the
    /// work) stay int8 and the one query of a search runs the float model, loaded on the first search (docs/quality.md
    /// section 6g). Stored vectors and the model id do not change (an index still holds one model's vectors); a search by
    /// an indexed item uses its stored vector. Nothing changes with Float32 items or on CUDA (already float32).
    /// </summary>
    public QueryPrecision QueryPrecision { get; set; } = QueryPrecision.Same;

    /// <summary>
    /// The options of the encoder a search's query is embedded with when it is not the items' encoder
    /// (<see cref="QueryPrecision.Float32"/> with int8 items): these, float32, the centre crop the int8 model computes, no
    /// copy space. Null when queries are embedded by the items' encoder.
    /// </summary>
    public EncoderOptions? ForQueries()
    {
        if (QueryPrecision != QueryPrecision.Float32 || EffectivePrecision != EncoderPrecision.Int8) return null;
        var query = (EncoderOptions)MemberwiseClone();
        query.Precision = EncoderPrecision.Float32;
        query.QueryPrecision = QueryPrecision.Same;
        query.Descriptor = EffectiveDescriptor;
        query.CopyDescriptor = CopyDescriptorMode.None;
        query.Regions = false;
        query.DetailRegionSide = 0;
        query.AllowSpinning = false; // one inference per search, beside the item encoder's session
        return query;
    }

    /// <summary>For <see cref="EncoderPrecision.Int8"/>: the photos calibration runs on (the repository's samples/photos, copied at build).</summary>
    public string CalibrationImagesPath { get; set; } = "models/calibration";

    /// <summary>
    /// For <see cref="EncoderPrecision.Int8"/>: where a model quantised at first use is kept (default: a
    /// visualsearch-models folder in the temporary directory). A model already built beside the float one (by
    /// <c>vsearch quantize</c> at build) is used first.
    /// </summary>
    public string? Int8CachePath { get; set; }

    /// <summary>For <see cref="EncoderPrecision.Int8"/>: how activation ranges are calibrated (docs/quality.md has the comparison).</summary>
    public Quantization.RangeMethod Int8RangeMethod { get; set; } = Quantization.RangeMethod.Percentile;

    /// <summary>
    /// For <see cref="EncoderPrecision.Int8"/>: the backbone layers that stay float (mixed precision), comma-separated:
    /// <c>first-conv</c>, <c>last-block</c>, <c>last-conv</c> or node names of the model; empty: every Conv and Add
    /// in int8. Default <c>first-conv</c>: the one layer whose int8 rounding cost retrieval (docs/quality.md section 6
    /// has the per-layer measurements). Part of the int8 model's cache key, so a change is a new model id.
    /// </summary>
    public string Int8KeepFloat { get; set; } = "first-conv";

    /// <summary>For <see cref="EncoderPrecision.Int8"/>: seeded augmented views of each calibration photo, besides the photo itself.</summary>
    [Range(0, 64)]
    public int Int8CalibrationVariants { get; set; } = Quantization.CalibrationImages.DefaultVariantsPerPhoto;

    /// <summary>
    /// For <see cref="EncoderPrecision.Int8"/>: correct each int8 convolution's bias for the mean shift rounding
    /// leaves in its output channels, measured on the calibration images (default true; docs/quality.md section 6).
    /// Part of the int8 model's cache key.
    /// </summary>
    public bool Int8BiasCorrection { get; set; } = true;

    /// <summary>
    /// For <see cref="EncoderPrecision.Int8"/>: the int8 convolutions whose weights are rounded with error compensation
    /// (<see cref="Quantization.CompensatedRounding"/>: GPTQ-style, under the calibration images' input second moments)
    /// instead of each to its nearest level; the same selectors as <see cref="Int8KeepFloat"/> (<c>first-conv</c>,
    /// <c>last-conv</c>, <c>last-block</c>, <c>all</c>, node names; Convs with patches longer than
    /// <see cref="Int8CompensatedMaxPatch"/> keep nearest rounding), empty: none. Part of the int8 model's cache key.
    /// </summary>
    public string Int8CompensatedRounding { get; set; } = "";

    /// <summary>
    /// For <see cref="EncoderPrecision.Int8"/> with <see cref="Int8CompensatedRounding"/>: the longest patch (input channels x
    /// kernel area) a compensated Conv may have. Default 1,152 (ResNet18's layers up to layer2); 4,608 takes layer3 and
    /// layer4 too, at a build cost of tens of CPU seconds (docs/quality.md section 6f). Part of the int8 model's cache key.
    /// </summary>
    [Range(1, 65_536)]
    public int Int8CompensatedMaxPatch { get; set; } = Quantization.CompensatedRounding.DefaultMaxPatchLength;

    /// <summary>
    /// For <see cref="EncoderPrecision.Int8"/>: seeded views of each calibration photo degraded the way copies are (shrunk
    /// to a small size and enlarged again, or JPEG at quality 10-40), besides the photo and its augmented views; they enter
    /// the activation ranges, the compensated rounding and the bias correction. Default 0. Part of the int8 model's cache key.
    /// </summary>
    [Range(0, 64)]
    public int Int8CalibrationDegradedViews { get; set; }

    /// <summary>
    /// For <see cref="EncoderPrecision.Int8"/> with the first convolution in int8 (not in <see cref="Int8KeepFloat"/>) and
    /// <see cref="PreprocessingMode.MeanImageBgr"/>: run it on the exact 8-bit pixels (the mean image added back inside the
    /// graph, ConvInteger, the mean image's convolution added after it) instead of the input quantised per tensor
    /// (default true; docs/quality.md section 6e). Part of the int8 model's cache key.
    /// </summary>
    public bool Int8ExactPixels { get; set; } = true;

    /// <summary>
    /// For <see cref="EncoderPrecision.Int8"/>: how the int8 weights are stored, which decides ONNX Runtime's integer
    /// kernels (<see cref="Quantization.Int8WeightForm"/>): <c>S8</c> (default; exact with VNNI, can saturate on AVX2 CPUs
    /// without it), <c>U8</c> (the same weights, u8 x u8 kernels, exact on every x86 CPU) or <c>S7</c> (7-bit weights).
    /// The same on every machine whatever its CPU (docs/quality.md 6h says why). Part of the int8 model's cache key.
    /// </summary>
    public Quantization.Int8WeightForm Int8Weights { get; set; } = Quantization.Int8WeightForm.S8;

    /// <summary>
    /// How the vector is taken: <see cref="DescriptorMode.FeatureMap"/> or <see cref="DescriptorMode.CentreCrop"/>.
    /// The model id says which (<c>resnet18-&lt;sha12&gt;-map-gem3-s224-512</c> against <c>resnet18-&lt;sha12&gt;-512</c>),
    /// so an index never mixes them; changing it needs <c>vsearch reindex</c>. Int8 always runs CentreCrop (the
    /// quantised graph keeps its pool and its 224 input) and says so in the log.
    /// </summary>
    public DescriptorMode Descriptor { get; set; } = DescriptorMode.CentreCrop;

    /// <summary>
    /// The copy space (issue 14's dual design, docs/quality.md section 7d): <see cref="CopyDescriptorMode.FeatureMap"/> embeds every
    /// item a second time, whole image and GeM with this section's FeatureMap settings, into a second index version of that
    /// model's id, which copy search (<c>space=copies</c>), duplicates and <c>cutoff=auto</c> read; the category vector
    /// (<see cref="Descriptor"/>, which must stay <see cref="DescriptorMode.CentreCrop"/>) is unchanged. About 2.1x the
    /// embedding per ingest and 2 KiB more per item; with the default detail regions (<see cref="DetailRegionSide"/>) about 60
    /// vectors per item in the copy space and 6.3x the ingest time of the centre crop alone (docs/performance.md "The shipped default"). The default (docs/quality.md "The shipped default"): <see cref="CopyDescriptorMode.None"/> goes back to one
    /// vector per item. Switching it on needs <c>vsearch reindex</c> to fill the copy space. Not set and
    /// <see cref="Descriptor"/> set to <see cref="DescriptorMode.FeatureMap"/>: None (that one vector is the copy descriptor
    /// already; <see cref="ApplyDefaults"/>).
    /// </summary>
    public CopyDescriptorMode CopyDescriptor { get; set; } = CopyDescriptorMode.FeatureMap;

    /// <summary>
    /// For <see cref="CopyDescriptor"/>: a projection head applied to the copy vector only (the category vector keeps
    /// <see cref="HeadPath"/>), e.g. a PCA-whitening written by <c>vsearch train --whiten --epochs 0</c> on the copy
    /// descriptor's vectors of a gallery (docs/quality.md section 7f). It must be trained on the copy encoder's backbone
    /// (its model id, <c>...-map-gem3-s224-flat-512</c>); the copy model id then names it (<c>...-512-head-&lt;sha8&gt;-512</c>),
    /// so setting or changing it needs <c>vsearch reindex</c>. Unset: the copy vectors as they are.
    /// </summary>
    public string? CopyHeadPath { get; set; }

    /// <summary>The setting <see cref="HeadPath"/> came from, for error messages: Encoder:CopyHeadPath in the copy encoder's options.</summary>
    internal string HeadSetting { get; private set; } = $"{SectionName}:{nameof(HeadPath)}";

    /// <summary>
    /// The options of the copy space's encoder: these, with the feature-map descriptor, float32 (the int8 graph keeps
    /// its pool), the copy head (<see cref="CopyHeadPath"/>, not <see cref="HeadPath"/>) and no R-MAC regions (the detail
    /// regions of <see cref="DetailRegionSide"/> are kept: they are made for the copy space). Null when
    /// <see cref="CopyDescriptor"/> is None.
    /// </summary>
    public EncoderOptions? ForCopies()
    {
        if (CopyDescriptor == CopyDescriptorMode.None) return null;
        var copy = (EncoderOptions)MemberwiseClone();
        copy.CopyDescriptor = CopyDescriptorMode.None;
        copy.AllowSpinning = false; // it takes turns with the category session (EffectiveAllowSpinning)
        copy.Descriptor = DescriptorMode.FeatureMap;
        copy.Precision = EncoderPrecision.Float32;
        copy.HeadPath = CopyHeadPath;
        copy.HeadSetting = $"{SectionName}:{nameof(CopyHeadPath)}";
        copy.CopyHeadPath = null;
        copy.Regions = false;
        return copy;
    }

    /// <summary>For <see cref="DescriptorMode.FeatureMap"/>: the last convolutional activation, before the network's pool.</summary>
    [Required]
    public string FeatureMapTensor { get; set; } = "ReLU393_Output_0";

    /// <summary>
    /// The network's total stride: a whole image's sides are rounded to a multiple of it (the CNTK export's fixed,
    /// uneven pads make the residual branches disagree by a cell otherwise), so its aspect ratio is kept to within 16 px.
    /// </summary>
    public const int MapStride = 32;

    /// <summary>
    /// For <see cref="DescriptorMode.FeatureMap"/>: the whole image's shorter side in pixels (a multiple of <see cref="MapStride"/>).
    /// 224: the best copy detector measured (docs/quality.md section 7; 288 finds fewer copies and costs more).
    /// </summary>
    [Range(32, 1024)]
    public int ShorterSide { get; set; } = 224;

    /// <summary>
    /// For <see cref="DescriptorMode.FeatureMap"/>: the longer side's cap in pixels. A panorama is scaled down until its
    /// longer side fits (its shorter side then ends below <see cref="ShorterSide"/>): it bounds the work per image. A multiple of <see cref="MapStride"/>.
    /// </summary>
    [Range(32, 2048)]
    public int MaxLongerSide { get; set; } = 448;

    /// <summary>
    /// For <see cref="DescriptorMode.FeatureMap"/>: a second shorter side (0: none). The vector is then the mean of the
    /// two sizes' pooled vectors (multi-scale), at twice the cost or so.
    /// </summary>
    [Range(0, 1024)]
    public int SecondShorterSide { get; set; }

    /// <summary>For <see cref="DescriptorMode.FeatureMap"/>: how the map is pooled (GeM by default).</summary>
    public PoolingMethod Pooling { get; set; } = PoolingMethod.GeM;

    /// <summary>For <see cref="PoolingMethod.GeM"/>: the exponent p (1 is the average; 3 is the usual choice).</summary>
    [Range(1.0, 16.0)]
    public float GemP { get; set; } = 3f;

    /// <summary>
    /// For <see cref="DescriptorMode.FeatureMap"/>: pool only the cells of the map whose block of the image is not flat
    /// (some channel varies by more than <see cref="FlatCellTolerance"/>): white margins, the white corners of a
    /// circular detail and the black corners of a rotated canvas then do not count (all cells when every block is flat).
    /// The model id says so (<c>-flat</c>). Regions are pooled whole either way. Default true (the copy space's measured best, docs/quality.md 7a).
    /// </summary>
    public bool MaskFlatCells { get; set; } = true;

    /// <summary>For <see cref="MaskFlatCells"/>: the largest spread of a channel (0-255) within a block that counts as flat (JPEG noise on white stays within it).</summary>
    public const int FlatCellTolerance = 8;

    /// <summary>
    /// For <see cref="DescriptorMode.FeatureMap"/> (and so for the copy space): what a <b>query's</b> flat background does
    /// (<see cref="QueryBackgroundMode"/>; the white corners of a detail cut through a circle, letterbox bars). Queries only:
    /// stored vectors, and so the model id, are the same whatever it says, and it can be switched either way on a live
    /// index. Default <see cref="QueryBackgroundMode.CropView"/> (docs/quality.md sections 7g and 7i have the measurements); it needs
    /// detail regions and is left out (None) when no feature-map descriptor runs and it is not set (<see cref="ApplyDefaults"/>).
    /// </summary>
    public QueryBackgroundMode QueryBackground { get; set; } = QueryBackgroundMode.CropView;

    /// <summary>
    /// For <see cref="DescriptorMode.FeatureMap"/>: also make a vector per region of the map (R-MAC-style grids, see
    /// <see cref="RegionGrid"/>), stored as extra vectors of the item so that a query showing a part of it can find it.
    /// The item's own vector (and so the model id) is the same either way.
    /// </summary>
    public bool Regions { get; set; }

    /// <summary>For <see cref="Regions"/>: how many region sizes (1 to 3), from half the shorter side down to a fifth.</summary>
    [Range(1, 3)]
    public int RegionScales { get; set; } = 3;

    /// <summary>
    /// For <see cref="DescriptorMode.FeatureMap"/> (and so for the copy space, <see cref="CopyDescriptor"/>): the shorter side in
    /// pixels of a second inference of the whole image whose map gives <b>detail regions</b> (0: none; a multiple of
    /// <see cref="MapStride"/>, e.g. 448). A query showing a detail of 3-10% of a stored image is embedded at the query size,
    /// so its features are at 3-6x the scale of the item's own map, where the detail is one or two cells; at this larger
    /// size the detail spans <see cref="DetailRegionCells"/> cells and a window of the map matches it (docs/quality.md
    /// section 7e). The windows are stored as region vectors of the item (an item scores the best of its vectors); queries
    /// are embedded as before. The longer side is capped in the same proportion as <see cref="MaxLongerSide"/>. The model
    /// id says how the regions were made (<c>-dr448c3-4n60</c>), so an index never mixes them. Costs one inference of about
    /// (DetailRegionSide / ShorterSide)^2 the work per stored item, and up to <see cref="DetailRegionLimit"/> vectors more.
    /// Default 448 (in the copy space); left out (0) when no feature-map descriptor runs and it is not set (<see cref="ApplyDefaults"/>).
    /// </summary>
    [Range(0, 2048)]
    public int DetailRegionSide { get; set; } = DefaultDetailRegionSide;

    /// <summary>The default <see cref="DetailRegionSide"/>: 448, twice the shorter side (docs/quality.md 7e).</summary>
    public const int DefaultDetailRegionSide = 448;

    /// <summary>For <see cref="DetailRegionSide"/>: the square windows' sides in cells of that map, comma-separated (each slid at half its side); 3 and 4 at 448 measured the best trade (docs/quality.md section 7e).</summary>
    [Required, RegularExpression(@"^\s*\d{1,2}(\s*,\s*\d{1,2})*\s*$")]
    public string DetailRegionCells { get; set; } = "3,4";

    /// <summary>For <see cref="DetailRegionSide"/>: the most detail regions per item (the windows' strides grow until they fit).</summary>
    [Range(1, 1000)]
    public int DetailRegionLimit { get; set; } = 60;

    /// <summary>The parsed <see cref="DetailRegionCells"/>: distinct sides of at least one cell, in the order given (anything else left out).</summary>
    public IReadOnlyList<int> DetailRegionWindows =>
        [.. DetailRegionCells.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(c => int.TryParse(c, System.Globalization.CultureInfo.InvariantCulture, out var cells) ? cells : 0).Where(c => c >= 1).Distinct()];

    /// <summary>The input of the detail-region inference, or null when <see cref="DetailRegionSide"/> is 0.</summary>
    public Imaging.ImageInput? DetailRegionInput => DetailRegionSide <= 0 ? null
        : new Imaging.ImageInput(DetailRegionSide, WholeImage: true,
            Math.Max(DetailRegionSide, (int)Math.Round((double)MaxLongerSide * DetailRegionSide / ShorterSide / MapStride) * MapStride), MapStride);

    /// <summary>The descriptor that actually runs: CentreCrop with Int8, otherwise <see cref="Descriptor"/>.</summary>
    public DescriptorMode EffectiveDescriptor => EffectivePrecision == EncoderPrecision.Int8 ? DescriptorMode.CentreCrop : Descriptor;

    /// <summary>The precision that actually runs: Float32 on CUDA, otherwise <see cref="Precision"/>.</summary>
    public EncoderPrecision EffectivePrecision => ExecutionProvider == ExecutionProvider.Cuda ? EncoderPrecision.Float32 : Precision;

    /// <summary>Threads one inference may use (0: the number of cores, at most 4). Use 1 when several workers embed in parallel.</summary>
    [Range(0, 64)]
    public int IntraOpThreads { get; set; }

    /// <summary>
    /// Whether ONNX Runtime's inference threads spin-wait for work after each parallel step (its default) or
    /// sleep. Spinning saves a wake-up per step but keeps a core busy after every inference, which slows the
    /// decode of the next image on the same machine (docs/performance.md).
    /// </summary>
    public bool AllowSpinning { get; set; } = true;

    /// <summary>
    /// Whether the session spins: <see cref="AllowSpinning"/>, except with a copy space (<see cref="CopyDescriptor"/>), where
    /// two sessions take turns on every ingest and one's spinning threads would hold the cores the other needs
    /// (measured: 417 photos ingested in 51 s spinning against 34 s not, docs/quality.md section 7d).
    /// </summary>
    public bool EffectiveAllowSpinning => AllowSpinning && CopyDescriptor == CopyDescriptorMode.None;

    /// <summary>
    /// Where inference runs: Cpu (default), or Cuda on an NVIDIA GPU. Cuda needs the app built with
    /// <c>-p:OnnxRuntimeFlavor=Gpu</c> (Microsoft.ML.OnnxRuntime.Gpu) and CUDA 12 + cuDNN 9 on the machine (infra/gpu).
    /// </summary>
    public ExecutionProvider ExecutionProvider { get; set; } = ExecutionProvider.Cpu;

    /// <summary>The GPU to use with <see cref="ExecutionProvider.Cuda"/>.</summary>
    [Range(0, 64)]
    public int CudaDeviceId { get; set; }

    /// <summary>Load the model in the background at start and run one warm-up inference.</summary>
    public bool WarmUpOnStart { get; set; } = true;

    /// <summary>
    /// The defaults that depend on other settings, after binding <paramref name="section"/> (the Encoder section). Settings
    /// given there are kept (and the validation at start says when they do not fit together); only defaults give way:
    /// <list type="bullet">
    /// <item><see cref="CopyDescriptor"/> with <see cref="Descriptor"/> FeatureMap: None (the item's one vector is the copy descriptor already).</item>
    /// <item><see cref="DetailRegionSide"/>: 0 where detail regions cannot be made: no feature-map descriptor (the centre crop and no
    /// copy space), R-MAC <see cref="Regions"/>, or a head on the feature-map vectors (<see cref="HeadPath"/> with
    /// Descriptor FeatureMap, <see cref="CopyHeadPath"/> in the copy space).</item>
    /// <item><see cref="QueryBackground"/>: None with no feature-map descriptor, and CropView (which asks the detail regions) None without detail regions.</item>
    /// </list>
    /// </summary>
    public EncoderOptions ApplyDefaults(Microsoft.Extensions.Configuration.IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        bool IsSet(string key) => !string.IsNullOrWhiteSpace(section[key]);
        if (Descriptor == DescriptorMode.FeatureMap && !IsSet(nameof(CopyDescriptor))) CopyDescriptor = CopyDescriptorMode.None;
        var noRegions = (Descriptor != DescriptorMode.FeatureMap && CopyDescriptor == CopyDescriptorMode.None) || Regions
            || (Descriptor == DescriptorMode.FeatureMap && !string.IsNullOrWhiteSpace(HeadPath))
            || (CopyDescriptor != CopyDescriptorMode.None && !string.IsNullOrWhiteSpace(CopyHeadPath));
        if (noRegions && !IsSet(nameof(DetailRegionSide))) DetailRegionSide = 0;
        var noFeatureMap = Descriptor != DescriptorMode.FeatureMap && CopyDescriptor == CopyDescriptorMode.None;
        if (!IsSet(nameof(QueryBackground)) && (noFeatureMap || (DetailRegionSide == 0 && QueryBackground == QueryBackgroundMode.CropView))) QueryBackground = QueryBackgroundMode.None;
        return this;
    }

    /// <summary>
    /// The copy descriptor <paramref name="configuration"/> (the whole configuration) asks for, by the same rules as the bound
    /// options (the default, or None with <c>Encoder:Descriptor=FeatureMap</c> and no copy setting; <see cref="ApplyDefaults"/>);
    /// a value that does not parse counts as None here and is left to the options' validation.
    /// </summary>
    public static CopyDescriptorMode ConfiguredCopyDescriptor(Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(SectionName);
        var copy = section[nameof(CopyDescriptor)];
        if (!string.IsNullOrWhiteSpace(copy))
            return Enum.TryParse<CopyDescriptorMode>(copy, ignoreCase: true, out var mode) && Enum.IsDefined(mode) ? mode : CopyDescriptorMode.None;
        return Enum.TryParse<DescriptorMode>(section[nameof(Descriptor)], ignoreCase: true, out var descriptor) && descriptor == DescriptorMode.FeatureMap
            ? CopyDescriptorMode.None
            : new EncoderOptions().CopyDescriptor;
    }

    internal static string Resolve(string path) =>
        Path.IsPathRooted(path) ? path : Path.Combine(AppContext.BaseDirectory, path);
}
