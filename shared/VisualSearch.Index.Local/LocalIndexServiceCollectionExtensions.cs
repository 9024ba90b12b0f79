using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

public static class LocalIndexServiceCollectionExtensions
{
    /// <summary>
    /// Registers the embedded on-disk index (section "LocalIndex", validated at start): the
    /// <see cref="LocalIndexCatalog"/> of model versions under LocalIndex:Path as the <see cref="IVectorIndexCatalog"/>,
    /// and a <see cref="VersionedVectorIndex"/> over it as the <see cref="IVectorIndex"/>. <paramref name="followCurrent"/>
    /// false opens the configured model's version whatever the CURRENT pointer says (what <c>vsearch reindex</c> builds into).
    /// </summary>
    public static IHostApplicationBuilder AddLocalVectorIndex(this IHostApplicationBuilder builder, bool followCurrent = true)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<LocalIndexOptions>()
            .Bind(builder.Configuration.GetSection(LocalIndexOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.TryAddSingleton<LocalIndexCatalog>();
        builder.Services.AddVersionedVectorIndex<LocalIndexCatalog>(followCurrent);
        return builder;
    }
}
