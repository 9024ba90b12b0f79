using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Configuration;
using VisualSearch.Blobs;
using VisualSearch.Imaging;

namespace VisualSearch.Cli;

/// <summary>
/// <c>vsearch upload &lt;folder&gt; [--container NAME]</c>: puts every image below a folder into the blob
/// container (Azurite by default; BlobSource__ConnectionString for another account), as a client would.
/// </summary>
public static class UploadCommand
{
    public static async Task<int> RunAsync(CliArgs args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        args.RejectUnknown("container");
        if (args.Positionals.Count != 1) throw new UsageException("Usage: vsearch upload <folder> [--container NAME]");
        var root = Path.GetFullPath(args.Positionals[0]);
        if (!Directory.Exists(root))
        {
            await stderr.WriteLineAsync($"error: folder not found: {root}").ConfigureAwait(false);
            return 1;
        }

        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().Build();
        var options = new BlobSourceOptions();
        configuration.GetSection(BlobSourceOptions.SectionName).Bind(options);
        options.ConnectionString ??= "UseDevelopmentStorage=true";
        if (args.Get("container") is { } container) options.Container = container;

        var client = BlobIngestionExtensions.CreateClient(options).GetBlobContainerClient(options.Container);
        await client.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var count = 0;
        foreach (var path in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var header = new byte[16];
            await using (var probe = File.OpenRead(path))
                _ = await probe.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            var format = ImageFormats.Detect(header);
            if (format == ImageFormat.Unknown) continue;
            var name = Path.GetRelativePath(root, path).Replace('\\', '/');
            await client.GetBlobClient(name).UploadAsync(path, new BlobUploadOptions
            {
                HttpHeaders = new BlobHttpHeaders { ContentType = format.ContentType() },
            }, cancellationToken).ConfigureAwait(false);
            count++;
        }

        await stdout.WriteLineAsync($"Uploaded {count} images to {client.Uri}").ConfigureAwait(false);
        return count > 0 ? 0 : 1;
    }
}
