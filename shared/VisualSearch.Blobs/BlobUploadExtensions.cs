using Azure.Storage.Blobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VisualSearch.Ingestion;

namespace VisualSearch.Blobs;

public static partial class BlobUploadExtensions
{
    /// <summary>
    /// Registers client uploads with signed URLs (section "Uploads"): the <see cref="IUploadStore"/> behind
    /// POST /api/uploads and GET /api/uploads/{id}, and the signer. Call after
    /// <see cref="BlobIngestionExtensions.AddBlobIngestion"/>, which registers the BlobServiceClient.
    /// </summary>
    /// <param name="allowAccountKeySigning">
    /// The local host passes true: when the configured client holds an account key (a connection string with
    /// AccountKey, e.g. UseDevelopmentStorage=true for Azurite), URLs are signed with it. The Functions host passes
    /// false: user delegation keys only, whatever the configuration says.
    /// </param>
    public static IHostApplicationBuilder AddBlobUploads(this IHostApplicationBuilder builder, bool allowAccountKeySigning)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<ClientUploadOptions>()
            .Bind(builder.Configuration.GetSection(ClientUploadOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<IUploadUrlSigner>(sp =>
        {
            var client = sp.GetRequiredService<BlobServiceClient>();
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(BlobUploadExtensions).FullName!);
            if (allowAccountKeySigning && client.CanGenerateAccountSasUri)
            {
                LogSigner(logger, nameof(AccountKeyUploadSigner), client.AccountName);
                return new AccountKeyUploadSigner();
            }

            LogSigner(logger, nameof(UserDelegationUploadSigner), client.AccountName);
            return new UserDelegationUploadSigner(client, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<UserDelegationUploadSigner>>());
        });
        builder.Services.TryAddSingleton<BlobUploadStore>();
        builder.Services.TryAddSingleton<IUploadStore>(sp => sp.GetRequiredService<BlobUploadStore>());
        return builder;
    }

    [LoggerMessage(323, LogLevel.Information, "Upload URLs for account {Account} are signed by {Signer}")]
    private static partial void LogSigner(ILogger logger, string signer, string account);
}
