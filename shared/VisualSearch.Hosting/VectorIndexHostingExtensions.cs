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
    /// Registers the vector index backend named by VectorIndex:Provider (Local, the default, or AzureSearch)
    /// and its <see cref="IVectorIndexCatalog"/>. Switching backends is configuration only. With
    /// <see cref="VectorIndexRole.Serve"/> the index follows the current-model pointer and a host whose model does
    /// not match it stops at start with the fix in the log; with <see cref="VectorIndexRole.Build"/> it opens the
    /// configured model's version (vsearch reindex).
    /// </summary>
    public static IHostApplicationBuilder AddVectorIndex(this IHostApplicationBuilder builder, VectorIndexRole role = VectorIndexRole.Serve)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<VectorIndexOptions>()
            .Bind(builder.Configuration.GetSection(VectorIndexOptions.SectionName))
            .ValidateDataAnnotations()
            .Validate(o => VectorIndexOptions.IsLocal(o.Provider) || VectorIndexOptions.IsAzureSearch(o.Provider),
                "VectorIndex:Provider must be Local (the embedded index, the default) or AzureSearch.")
            .ValidateOnStart();

        var provider = builder.Configuration[$"{VectorIndexOptions.SectionName}:{nameof(VectorIndexOptions.Provider)}"];
        var followCurrent = role == VectorIndexRole.Serve;
        if (VectorIndexOptions.IsAzureSearch(provider))
        {
            builder.AddAzureSearchVectorIndex(followCurrent);
            builder.Services.TryAddSingleton<IVectorIndexCatalog>(sp => new AzureSearchVectorIndexCatalog(sp.GetRequiredService<AzureSearchIndexCatalog>()));
        }
        else if (VectorIndexOptions.IsLocal(provider))
        {
            builder.AddLocalVectorIndex(followCurrent);
            builder.Services.TryAddSingleton<IVectorIndexCatalog>(sp => new LocalVectorIndexCatalog(sp.GetRequiredService<LocalIndexCatalog>()));
        }
        else
        {
            // Validation at start reports the setting; this only keeps anything from opening an index meanwhile.
            var message = $"VectorIndex:Provider must be Local (the embedded index, the default) or AzureSearch, not '{provider}'.";
            builder.Services.TryAddSingleton<IVectorIndex>(_ => throw new OptionsValidationException(VectorIndexOptions.SectionName, typeof(VectorIndexOptions), [message]));
            builder.Services.TryAddSingleton<IVectorIndexCatalog>(_ => throw new OptionsValidationException(VectorIndexOptions.SectionName, typeof(VectorIndexOptions), [message]));
        }

        if (role == VectorIndexRole.Serve) builder.Services.AddHostedService<IndexModelStartupCheck>();
        return builder;
    }
}
