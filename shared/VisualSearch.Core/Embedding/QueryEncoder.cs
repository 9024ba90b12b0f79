using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Diagnostics;

namespace VisualSearch.Embedding;

/// <summary>
/// The encoder a search by image embeds its query with when it is not the stored items' encoder
/// (<see cref="EncoderOptions.QueryPrecision"/> Float32 with int8 items): the float model, loaded on the first search
/// (so a host that only ingests never loads it). Registered only when configured (<see cref="IsConfigured"/>); the
/// items, the index and the model id stay the item encoder's, and nothing ingests with this one.
/// </summary>
public sealed class QueryEncoder : IDisposable
{
    private readonly IDisposable? _owned;

    /// <param name="encoder">The query encoder (the items' model id must not be its concern: it never writes a vector).</param>
    /// <param name="owned">What this wrapper created and disposes (the encoder's session), if anything.</param>
    public QueryEncoder(IImageEncoder encoder, IDisposable? owned = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        Encoder = encoder;
        _owned = owned;
    }

    public IImageEncoder Encoder { get; }

    /// <summary>
    /// Whether the configuration asks for a query encoder of its own: Encoder:QueryPrecision Float32 with Encoder:Precision
    /// Int8 on the CPU (what <see cref="EncoderOptions.ForQueries"/> says of the bound options; a bad value is left to the
    /// options' validation).
    /// </summary>
    public static bool IsConfigured(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(EncoderOptions.SectionName);
        return Enum.TryParse<QueryPrecision>(section[nameof(EncoderOptions.QueryPrecision)], ignoreCase: true, out var query) && query == QueryPrecision.Float32
            && Enum.TryParse<EncoderPrecision>(section[nameof(EncoderOptions.Precision)], ignoreCase: true, out var precision) && precision == EncoderPrecision.Int8
            && !(Enum.TryParse<ExecutionProvider>(section[nameof(EncoderOptions.ExecutionProvider)], ignoreCase: true, out var provider) && provider == ExecutionProvider.Cuda);
    }

    /// <summary>The float32 query encoder of the configured options (<see cref="EncoderOptions.ForQueries"/>).</summary>
    public static QueryEncoder Create(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.GetRequiredService<IOptions<EncoderOptions>>().Value.ForQueries()
            ?? throw new InvalidOperationException("Encoder:QueryPrecision is Same (or the items are already float32): queries use the item encoder.");
        var encoder = new OnnxImageEncoder(Options.Create(options), services.GetRequiredService<ILogger<OnnxImageEncoder>>(), services.GetRequiredService<VisualSearchMetrics>());
        return new QueryEncoder(encoder, encoder);
    }

    public void Dispose() => _owned?.Dispose();
}
