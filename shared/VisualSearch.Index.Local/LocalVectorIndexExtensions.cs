using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

public static class LocalVectorIndexExtensions
{
    /// <summary>Registers the embedded on-disk index as the <see cref="IVectorIndex"/> (section "LocalIndex").</summary>
    public static IHostApplicationBuilder AddLocalVectorIndex(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<LocalIndexOptions>()
            .Bind(builder.Configuration.GetSection(LocalIndexOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.TryAddSingleton<LocalVectorIndex>();
        builder.Services.TryAddSingleton<IVectorIndex>(sp => sp.GetRequiredService<LocalVectorIndex>());
        return builder;
    }
}
