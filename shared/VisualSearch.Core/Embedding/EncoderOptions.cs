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
    /// <summary>The float32 model as published (the default: int8 missed the retrieval checks, docs/quality.md section 6).</summary>
    Float32,

    /// <summary>
    /// An int8 model (QDQ: int8 weights per channel, uint8 activations) quantised from the float model on this
    /// machine (vsearch quantize, or at first use into a cache), calibrated on the bundled photos (Embedding/Quantization).
    /// About 3.5x faster embedding on a CPU, a quarter of the size. CPU only: with <see cref="ExecutionProvider.Cuda"/>
    /// the float model runs.
    /// </summary>
    Int8,
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

    /// <summary>Square input side in pixels.</summary>
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
    /// mixes them; changing it needs <c>vsearch reindex</c>. The CUDA path always runs Float32.
    /// </summary>
    public EncoderPrecision Precision { get; set; } = EncoderPrecision.Float32;

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
    /// Where inference runs: Cpu (default), or Cuda on an NVIDIA GPU. Cuda needs the app built with
    /// <c>-p:OnnxRuntimeFlavor=Gpu</c> (Microsoft.ML.OnnxRuntime.Gpu) and CUDA 12 + cuDNN 9 on the machine (infra/gpu).
    /// </summary>
    public ExecutionProvider ExecutionProvider { get; set; } = ExecutionProvider.Cpu;

    /// <summary>The GPU to use with <see cref="ExecutionProvider.Cuda"/>.</summary>
    [Range(0, 64)]
    public int CudaDeviceId { get; set; }

    /// <summary>Load the model in the background at start and run one warm-up inference.</summary>
    public bool WarmUpOnStart { get; set; } = true;

    internal static string Resolve(string path) =>
        Path.IsPathRooted(path) ? path : Path.Combine(AppContext.BaseDirectory, path);
}
