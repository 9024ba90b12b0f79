using Azure.Core;
using Azure.Identity;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using VisualSearch.Imaging;
using VisualSearch.Ingestion;

namespace VisualSearch.Blobs;

public static class BlobIngestionExtensions
{
    /// <summary>
    /// Registers blob ingestion (section "BlobSource"): the BlobServiceClient, the ingestor that handles blob
    /// events, the image store that serves the container's originals, and, when <paramref name="watch"/> and BlobSource:Watch are on, the container watcher.
    /// </summary>
    public static IHostApplicationBuilder AddBlobIngestion(this IHostApplicationBuilder builder, bool watch)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<BlobSourceOptions>()
            .Bind(builder.Configuration.GetSection(BlobSourceOptions.SectionName))
            .ValidateDataAnnotations()
            .Validate(o => !string.IsNullOrWhiteSpace(o.ConnectionString) || o.ServiceUri is { Scheme: "https" },
                "Set BlobSource:ConnectionString, or BlobSource:ServiceUri (https) for a managed identity.")
            .ValidateOnStart();
        builder.Services.TryAddSingleton(sp => CreateClient(sp.GetRequiredService<IOptions<BlobSourceOptions>>().Value));
        builder.Services.TryAddSingleton<BlobIngestor>();
        builder.Services.TryAddSingleton<IBlobEventHandler>(sp => sp.GetRequiredService<BlobIngestor>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IImageStore, BlobImageStore>());
        if (watch && builder.Configuration.GetValue(BlobSourceOptions.SectionName + ":Watch", true))
        {
            builder.Services.TryAddSingleton<ContainerWatcher>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<ContainerWatcher>());
        }

        return builder;
    }

    public static BlobServiceClient CreateClient(BlobSourceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clientOptions = new BlobClientOptions();
        clientOptions.Retry.MaxRetries = options.MaxRetries;
        clientOptions.Retry.Mode = RetryMode.Exponential;
        clientOptions.Retry.Delay = TimeSpan.FromMilliseconds(200);
        clientOptions.Retry.NetworkTimeout = TimeSpan.FromSeconds(30);
        if (!string.IsNullOrWhiteSpace(options.ConnectionString)) return new BlobServiceClient(options.ConnectionString, clientOptions);
        TokenCredential credential = string.IsNullOrEmpty(options.ClientId)
            ? new DefaultAzureCredential()
            : new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(options.ClientId));
        return new BlobServiceClient(options.ServiceUri, credential, clientOptions);
    }
}
