using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

public static class LocalVectorIndexExtensions
{
    /// <summary>
    /// Registers the embedded on-disk index as the <see cref="IVectorIndex"/> (section "LocalIndex"): the
    /// <see cref="LocalIndexCatalog"/> of model versions under LocalIndex:Path and a <see cref="VersionedLocalVectorIndex"/>
    /// over it. <paramref name="followCurrent"/> false opens the configured model's version whatever the CURRENT
    /// pointer says (what <c>vsearch reindex</c> builds into).
    /// </summary>
    public static IHostApplicationBuilder AddLocalVectorIndex(this IHostApplicationBuilder builder, bool followCurrent = true)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<LocalIndexOptions>()
            .Bind(builder.Configuration.GetSection(LocalIndexOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.TryAddSingleton<LocalIndexCatalog>();
        builder.Services.TryAddSingleton(sp => new VersionedLocalVectorIndex(sp.GetRequiredService<LocalIndexCatalog>(), followCurrent));
        builder.Services.TryAddSingleton<IVectorIndex>(sp => sp.GetRequiredService<VersionedLocalVectorIndex>());
        return builder;
    }
}
