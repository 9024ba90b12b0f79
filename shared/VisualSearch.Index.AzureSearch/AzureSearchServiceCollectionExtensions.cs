using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Indexing;

namespace VisualSearch.Index.AzureSearch;

public static class AzureSearchServiceCollectionExtensions
{
    /// <summary>
    /// Registers Azure AI Search as the <see cref="IVectorIndex"/> (section "AzureSearch", validated at start):
    /// the <see cref="AzureSearchIndexCatalog"/> of model versions as the <see cref="IVectorIndexCatalog"/>, and a
    /// <see cref="VersionedVectorIndex"/> that follows its pointer. <paramref name="followCurrent"/> false opens the configured model's index whatever
    /// the pointer says (what <c>vsearch reindex</c> builds into). Register an <see cref="AzureSearchClientSettings"/>
    /// first to change the transport or the credential.
    /// </summary>
    public static IHostApplicationBuilder AddAzureSearchVectorIndex(this IHostApplicationBuilder builder, bool followCurrent = true)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<AzureSearchOptions>()
            .Bind(builder.Configuration.GetSection(AzureSearchOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AzureSearchOptions>, AzureSearchOptionsValidator>());
        builder.Services.TryAddSingleton(sp => new AzureSearchIndexCatalog(
            sp.GetRequiredService<IOptions<AzureSearchOptions>>(),
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetService<AzureSearchClientSettings>()));
        builder.Services.AddVersionedVectorIndex<AzureSearchIndexCatalog>(followCurrent);
        return builder;
    }
}
