using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using VisualSearch.FunctionalTests.Infrastructure;
using VisualSearch.Imaging;
using Xunit.Abstractions;

namespace VisualSearch.ReliabilityTests;

/// <summary>
/// A bounded fuzz run against the real local host (Kestrel), with fixed seeds so a failure reproduces: 500 random
/// query strings on the search and item routes, and 300 random or mutated image bodies. No answer is a 5xx, and
/// every error is a problem document.
/// </summary>
public sealed class FuzzTests(ValidationHostFixture fixture, ITestOutputHelper output) : IClassFixture<ValidationHostFixture>
{
    private const int QueryStrings = 500;
    private const int Bodies = 300;

    private static readonly string[] Keys = ["k", "minScore", "filter", "id", "K", "code", "k[]", "", "filter", "id"];
    private static readonly string[] Fields = ["contentType", "source", "album", "owner", "tag", "uploadedAt", "width", "'", "(", "and", "or", "not"];
    private static readonly string[] Operators = ["eq", "ne", "ge", "gt", "le", "lt", "EQ", "and", "", "in"];
    private static readonly string[] ContentTypes = ["image/jpeg", "image/png", "application/octet-stream", "", "image/", "image/x-weird; charset=utf-8", "text/plain", "multipart/form-data", "image/svg+xml", "*/*"];

    [Fact]
    public async Task Random_query_strings_never_give_a_5xx()
    {
        var random = new Random(20240501);
        var statuses = new Dictionary<int, int>();
        var image = TestImages.Photo(5, 64, 48, ImageFormat.Jpeg);
        for (var i = 0; i < QueryStrings; i++)
        {
            var query = RandomQuery(random);
            HttpResponseMessage response;
            string what;
            switch (i % 3)
            {
                case 0:
                    what = $"GET /api/search?{query}";
                    response = await fixture.Host.Client.GetAsync(new Uri("/api/search?" + query, UriKind.Relative));
                    break;
                case 1:
                    what = $"GET /api/items/{query}";
                    response = await fixture.Host.Client.GetAsync(new Uri("/api/items/" + RandomText(random, 60, pathSafe: true), UriKind.Relative));
                    break;
                default:
                    what = $"POST /api/search?{query}";
                    var content = new ByteArrayContent(image);
                    content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
                    response = await fixture.Host.Client.PostAsync(new Uri("/api/search?" + query, UriKind.Relative), content);
                    break;
            }

            using (response) await AssertNo5xxAsync(response, what, statuses);
        }

        output.WriteLine("query strings: " + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}: {s.Value}")));
        Assert.True(statuses.GetValueOrDefault(400) > QueryStrings / 10, "the fuzzer should mostly hit validation");
    }

    [Fact]
    public async Task Random_and_mutated_image_bodies_never_give_a_5xx()
    {
        var random = new Random(20240502);
        var seeds = new[]
        {
            TestImages.Photo(11, 120, 90, ImageFormat.Jpeg), TestImages.Photo(12, 120, 90, ImageFormat.Png), TestImages.Photo(13, 120, 90, ImageFormat.WebP),
            TestImages.Photo(14, 120, 90, ImageFormat.Gif), TestImages.Photo(15, 120, 90, ImageFormat.Bmp), TestImages.Photo(16, 120, 90, ImageFormat.Tiff),
        };
        var statuses = new Dictionary<int, int>();
        for (var i = 0; i < Bodies; i++)
        {
            var body = Mutate(random, seeds[random.Next(seeds.Length)], i);
            var contentType = ContentTypes[random.Next(ContentTypes.Length)];
            var content = new ByteArrayContent(body);
            if (contentType.Length > 0) content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            using var response = await fixture.Host.Client.PostAsync("/api/search?k=3", content);
            await AssertNo5xxAsync(response, $"body #{i} ({body.Length} bytes, {contentType})", statuses);
        }

        output.WriteLine("bodies: " + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}: {s.Value}")));
        Assert.True(statuses.GetValueOrDefault(200) > 0 && statuses.Keys.Count(s => s >= 400) >= 2, "the mutations should give both results and several kinds of refusal");
    }

    private static async Task AssertNo5xxAsync(HttpResponseMessage response, string what, Dictionary<int, int> statuses)
    {
        var status = (int)response.StatusCode;
        statuses[status] = statuses.GetValueOrDefault(status) + 1;
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status < 500, $"{what} -> {status}: {body}");
        // Kestrel refuses some requests itself, before any middleware, with an empty body (414 for a request line over
        // 8 KB, 400 for a malformed one); every refusal of the application is a problem document.
        var kestrel = status is 400 or 414 or 431 && body.Length == 0;
        if (status >= 400 && !kestrel) Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{what} -> {status} without a problem document: {body}");
    }

    private static string RandomQuery(Random random)
    {
        var parts = new List<string>();
        for (var n = random.Next(0, 5); n > 0; n--)
        {
            var key = Keys[random.Next(Keys.Length)];
            var value = (key.ToLowerInvariant(), random.Next(4)) switch
            {
                ("k", 0) or ("minscore", 0) => random.Next(-5, 200).ToString(CultureInfo.InvariantCulture),
                ("k", 1) or ("minscore", 1) => (random.NextDouble() * 4 - 2).ToString("R", CultureInfo.InvariantCulture),
                ("k", _) or ("minscore", _) => new[] { "NaN", "-0", "1e309", "+1", " 5", "0x1F", "١", "9999999999999999999", "" }[random.Next(9)],
                ("filter", 0) or ("filter", 1) => Uri.EscapeDataString(RandomFilter(random)),
                ("id", 0) => Uri.EscapeDataString(string.Join("/", Enumerable.Range(0, random.Next(1, 4)).Select(_ => new[] { "a", "..", ".", "", "coffee.png", "x\\y", "%2e%2e" }[random.Next(7)]))),
                ("id", 1) => "coffee.png",
                _ => RandomText(random, random.Next(4) == 0 ? 3000 : 40, pathSafe: false),
            };
            parts.Add(random.Next(10) == 0 ? key : $"{key}={value}");
        }

        return string.Join(random.Next(8) == 0 ? ";" : "&", parts);
    }

    private static string RandomFilter(Random random)
    {
        var text = new StringBuilder();
        for (var n = random.Next(1, 5); n > 0; n--)
        {
            if (text.Length > 0) text.Append(random.Next(5) == 0 ? " or " : " and ");
            text.Append(Fields[random.Next(Fields.Length)]).Append(' ').Append(Operators[random.Next(Operators.Length)]).Append(' ');
            text.Append(random.Next(4) switch
            {
                0 => "'" + RandomText(random, 12, pathSafe: true).Replace("'", "''", StringComparison.Ordinal) + "'",
                1 => "2024-0" + random.Next(1, 13) + "-01T00:00:00Z",
                2 => "'unterminated",
                _ => RandomText(random, 8, pathSafe: true),
            });
        }

        return text.ToString();
    }

    /// <summary>Random characters: ASCII, controls, quotes, percent signs (some not valid escapes), and non-ASCII.</summary>
    private static string RandomText(Random random, int maxLength, bool pathSafe)
    {
        const string Alphabet = "abcXYZ019 ./\\'\"%&=?#+-_~:;,()[]{}<>|^`@!$*";
        var text = new StringBuilder();
        for (var n = random.Next(0, maxLength + 1); n > 0; n--)
        {
            var c = random.Next(10) switch
            {
                0 => (char)random.Next(0, 32),
                1 => (char)random.Next(0x80, 0x800),
                2 => (char)random.Next(0xD800, 0xE000), // lone surrogates
                _ => Alphabet[random.Next(Alphabet.Length)],
            };
            text.Append(c);
        }

        var s = text.ToString();
        return pathSafe ? Uri.EscapeDataString(s.Replace("\uFFFD", "", StringComparison.Ordinal)) : EscapeSome(random, s);
    }

    /// <summary>Escapes most characters, but leaves some raw percent signs and bytes for the server's parser.</summary>
    private static string EscapeSome(Random random, string s)
    {
        var text = new StringBuilder();
        foreach (var c in s)
        {
            if (c == '%' && random.Next(2) == 0) text.Append('%');
            else if (char.IsAsciiLetterOrDigit(c)) text.Append(c);
            else if (char.IsSurrogate(c)) text.Append(random.Next(2) == 0 ? "%ED%A0%80" : "%F0%9F");
            else text.Append(Uri.EscapeDataString(c.ToString()));
        }

        return text.ToString();
    }

    /// <summary>Random bytes, magic bytes with random bodies, and valid images bit-flipped, cut, spliced or with chunks repeated.</summary>
    private static byte[] Mutate(Random random, byte[] seed, int i)
    {
        switch (i % 6)
        {
            case 0:
                var noise = new byte[random.Next(0, 20_000)];
                random.NextBytes(noise);
                return noise;
            case 1:
                var body = new byte[random.Next(16, 4096)];
                random.NextBytes(body);
                seed.AsSpan(0, Math.Min(16, seed.Length)).CopyTo(body);
                return body;
            case 2:
                var flipped = (byte[])seed.Clone();
                for (var n = random.Next(1, 20); n > 0; n--) flipped[random.Next(flipped.Length)] ^= (byte)(1 << random.Next(8));
                return flipped;
            case 3:
                return seed[..random.Next(1, seed.Length)];
            case 4:
                var cut = random.Next(seed.Length);
                var other = TestImages.Photo(random.Next(100), 80, 60, ImageFormat.Jpeg);
                return [.. seed[..cut], .. other[random.Next(other.Length)..]];
            default:
                var at = random.Next(seed.Length);
                var length = Math.Min(random.Next(1, 2000), seed.Length - at);
                var repeated = seed.AsSpan(at, length).ToArray();
                return [.. seed[..at], .. repeated, .. repeated, .. seed[at..]];
        }
    }
}
