using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using VisualSearch.Index.AzureSearch;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;

namespace VisualSearch.Hosting;

public static class VectorIndexHostingExtensions
{
    /// <summary>
    /// The backends VectorIndex:Provider may name, each mapped to its project's registration (which adds the
    /// backend's <see cref="IVectorIndexCatalog"/> and a <see cref="VersionedVectorIndex"/> over it). The second
    /// argument is followCurrent. A new backend is one entry here.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, Action<IHostApplicationBuilder, bool>> Providers =
        new Dictionary<string, Action<IHostApplicationBuilder, bool>>(StringComparer.OrdinalIgnoreCase)
        {
            [VectorIndexOptions.Local] = (builder, followCurrent) => builder.AddLocalVectorIndex(followCurrent),
            [VectorIndexOptions.AzureSearch] = (builder, followCurrent) => builder.AddAzureSearchVectorIndex(followCurrent),
        };

    /// <summary>
    /// Registers the vector index backend named by VectorIndex:Provider (Local, the default, or AzureSearch)
    /// and its <see cref="IVectorIndexCatalog"/>. Switching backends is configuration only. With
    /// <see cref="VectorIndexRole.Serve"/> the index follows the current-model pointer and a host whose model does
    /// not match it stops at start with the fix in the log; with <see cref="VectorIndexRole.Build"/> it opens the
    /// configured model's version (vsearch reindex).
    /// </summary>
    public static IHostApplicationBuilder AddVectorIndex(this IHostApplicationBuilder builder, VectorIndexRole role = VectorIndexRole.Serve)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var valid = $"VectorIndex:Provider must be one of {string.Join(", ", Providers.Keys)} (default {VectorIndexOptions.Local}, the embedded index)";
        builder.Services.AddOptions<VectorIndexOptions>()
            .Bind(builder.Configuration.GetSection(VectorIndexOptions.SectionName))
            .ValidateDataAnnotations()
            .Validate(o => Find(o.Provider) is not null, valid + ".")
            .ValidateOnStart();

        var provider = builder.Configuration[$"{VectorIndexOptions.SectionName}:{nameof(VectorIndexOptions.Provider)}"];
        if (Find(provider) is { } add)
        {
            add(builder, role == VectorIndexRole.Serve);
        }
        else
        {
            // Validation at start reports the setting; this only keeps anything from opening an index meanwhile.
            var message = $"{valid}, not '{provider}'.";
            builder.Services.TryAddSingleton<IVectorIndex>(_ => throw new OptionsValidationException(VectorIndexOptions.SectionName, typeof(VectorIndexOptions), [message]));
            builder.Services.TryAddSingleton<IVectorIndexCatalog>(_ => throw new OptionsValidationException(VectorIndexOptions.SectionName, typeof(VectorIndexOptions), [message]));
        }

        if (role == VectorIndexRole.Serve) builder.Services.AddHostedService<IndexModelStartupCheck>();
        return builder;
    }

    private static Action<IHostApplicationBuilder, bool>? Find(string? provider) =>
        Providers.GetValueOrDefault(string.IsNullOrWhiteSpace(provider) ? VectorIndexOptions.Local : provider.Trim());
}
