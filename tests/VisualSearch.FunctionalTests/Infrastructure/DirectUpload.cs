using System.Net.Http.Headers;
using System.Text.Json;

namespace VisualSearch.FunctionalTests.Infrastructure;

/// <summary>The client side of an upload URL: a plain HttpClient that knows nothing of Azure (no SDK, no credentials).</summary>
internal static class DirectUpload
{
    public static readonly HttpClient Plain = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>PUTs the bytes as a client does: the returned method, URL (or <paramref name="url"/>) and headers, nothing else.</summary>
    public static async Task<HttpResponseMessage> PutAsync(JsonElement upload, byte[] bytes, Uri? url = null)
    {
        Assert.Equal("PUT", upload.GetProperty("method").GetString());
        using var request = new HttpRequestMessage(HttpMethod.Put, url ?? new Uri(upload.GetProperty("uploadUrl").GetString()!));
        request.Content = new ByteArrayContent(bytes);
        foreach (var header in upload.GetProperty("headers").EnumerateObject())
        {
            if (header.Name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(header.Value.GetString()!);
            else
                Assert.True(request.Headers.TryAddWithoutValidation(header.Name, header.Value.GetString()));
        }

        return await Plain.SendAsync(request).ConfigureAwait(false);
    }
}
