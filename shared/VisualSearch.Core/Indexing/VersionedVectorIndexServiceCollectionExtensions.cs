using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace VisualSearch.Indexing;

public static class VersionedVectorIndexServiceCollectionExtensions
{
    /// <summary>
    /// The part every backend's <c>AddX</c> shares: its catalog (registered by the backend) as the
    /// <see cref="IVectorIndexCatalog"/>, and a <see cref="VersionedVectorIndex"/> over it as the <see cref="IVectorIndex"/>.
    /// <paramref name="followCurrent"/> false opens the configured model's version whatever the pointer says
    /// (what <c>vsearch reindex</c> builds into).
    /// </summary>
    public static IServiceCollection AddVersionedVectorIndex<TCatalog>(this IServiceCollection services, bool followCurrent = true)
        where TCatalog : class, IVectorIndexCatalog
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<IVectorIndexCatalog>(sp => sp.GetRequiredService<TCatalog>());
        services.TryAddSingleton(sp => new VersionedVectorIndex(sp.GetRequiredService<IVectorIndexCatalog>(), followCurrent));
        services.TryAddSingleton<IVectorIndex>(sp => sp.GetRequiredService<VersionedVectorIndex>());
        return services;
    }
}
