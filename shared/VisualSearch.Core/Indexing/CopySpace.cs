using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Diagnostics;
using VisualSearch.Embedding;

namespace VisualSearch.Indexing;

/// <summary>
/// The copy space of issue 14's dual design (<see cref="EncoderOptions.CopyDescriptor"/>): every item's second vector,
/// made by a second encoder (the feature-map descriptor), in a second version of the same index catalog, named by that
/// encoder's model id like any version. It is opened for its model whatever the current-model pointer says (the
/// pointer names the category model) and never moves the pointer; the ingestion writes it beside the category vector,
/// copy search, duplicates and <c>cutoff=auto</c> read it. Registered only when the setting is on, so a host without
/// it composes exactly as before.
/// </summary>
public sealed class CopySpace : IDisposable
{
    private readonly IDisposable? _owned;

    /// <param name="encoder">The copy encoder (another model id than the category encoder's).</param>
    /// <param name="index">The copy version, opened for <paramref name="encoder"/>'s model.</param>
    /// <param name="owned">What this space created and disposes (the encoder's session, the version's index), if anything.</param>
    public CopySpace(IImageEncoder encoder, VectorIndexAccessor index, IDisposable? owned = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(index);
        Encoder = encoder;
        Index = index;
        _owned = owned;
    }

    public IImageEncoder Encoder { get; }

    public VectorIndexAccessor Index { get; }

    /// <summary>
    /// Whether the configuration asks for a copy space: Encoder:CopyDescriptor other than None, or not set (the default is
    /// FeatureMap) unless Encoder:Descriptor is FeatureMap (<see cref="EncoderOptions.ConfiguredCopyDescriptor"/>; a bad value
    /// is left to the options' validation).
    /// </summary>
    public static bool IsConfigured(IConfiguration configuration) =>
        EncoderOptions.ConfiguredCopyDescriptor(configuration) != CopyDescriptorMode.None;

    /// <summary>
    /// The copy space of the configured encoder options over the registered catalog: a feature-map encoder
    /// (<see cref="EncoderOptions.ForCopies"/>) and a <see cref="VersionedVectorIndex"/> that opens its model's version.
    /// </summary>
    public static CopySpace Create(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.GetRequiredService<IOptions<EncoderOptions>>().Value.ForCopies()
            ?? throw new InvalidOperationException("Encoder:CopyDescriptor is None: there is no copy space to create.");
        var encoder = new OnnxImageEncoder(Options.Create(options), services.GetRequiredService<ILogger<OnnxImageEncoder>>(), services.GetRequiredService<VisualSearchMetrics>());
        var index = new VersionedVectorIndex(services.GetRequiredService<IVectorIndexCatalog>(), followCurrent: false);
        return new CopySpace(encoder, new VectorIndexAccessor(index, encoder), new Owned(encoder, index));
    }

    public void Dispose() => _owned?.Dispose();

    private sealed class Owned(OnnxImageEncoder encoder, VersionedVectorIndex index) : IDisposable
    {
        public void Dispose()
        {
            index.Dispose();
            encoder.Dispose();
        }
    }
}
